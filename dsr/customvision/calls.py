"""Records of the calls a client made, for deletion receipts and benchmarks.

A client reports a finished call only to its *call hooks* (``ClientOptions.hooks``, or
:meth:`~dsr.customvision.client.TrainingClient.view`); each hook here is one way to use them: count
(:class:`CallTally`), keep everything (:class:`CallRecorder`), or hand the calls to whoever observes
the current thread (:func:`to_thread_observers`, read with :func:`observe_calls`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CallRecord:
    """One logical API call (all its attempts). Holds no URL, query string, key or payload."""

    operation: str
    """Training API operation id, e.g. ``DeleteImages``; ``Download`` for blob fetches."""
    method: str
    status: int | None
    """Final HTTP status; ``None`` when no response arrived (reset, timeout)."""
    attempts: int
    duration_ms: float
    throttled: int = 0
    """Attempts answered 429 (Too Many Requests) before the final one."""


DOWNLOAD_OPERATION = "Download"
"""The operation name of blob fetches, which the Training API rate limit does not cover."""

CallHook = Callable[[CallRecord], None]
"""Called once per finished call, from whichever thread made it; must be quick and thread-safe."""


@dataclass(frozen=True)
class CallOutcome:
    """Result of one batch of a delete call."""

    operation: str
    ids: tuple[str, ...]
    status: int
    """204: done. 202: accepted, the service finishes asynchronously (verify by re-listing)."""

    @property
    def accepted_async(self) -> bool:
        return self.status == 202


@dataclass
class CallTally:
    """A call hook that counts API calls, throttled (429) answers and downloads of one piece of work."""

    calls: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, record: CallRecord) -> None:
        with self._lock:
            self.calls[record.operation] += 1
            self.throttled += record.throttled

    @property
    def api_calls(self) -> int:
        """Training API calls (each counted once, however many attempts it took); downloads excluded."""
        with self._lock:
            return sum(n for operation, n in self.calls.items() if operation != DOWNLOAD_OPERATION)


@dataclass
class CallRecorder:
    """A call hook that keeps every record, for tests and short benchmark runs (it grows with use)."""

    records: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)


_observers = threading.local()


@contextmanager
def observe_calls() -> Iterator[list[CallRecord]]:
    """Collect every call completed on this thread inside the block by a client that carries the
    :func:`to_thread_observers` hook (the runtime's unit clients do).

    A delete unit uses this to list the real API calls it made in its receipt; a client shared by
    concurrent activities on other threads does not mix their calls in.
    """
    collected: list[CallRecord] = []
    stack: list[list[CallRecord]] = _observers.__dict__.setdefault("stack", [])
    stack.append(collected)
    try:
        yield collected
    finally:
        stack.remove(collected)


def to_thread_observers(record: CallRecord) -> None:
    """A call hook: hand the finished call to the :func:`observe_calls` blocks of the current thread."""
    for collected in getattr(_observers, "stack", ()):
        collected.append(record)
