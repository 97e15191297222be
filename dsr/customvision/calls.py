"""Records of the calls a client made, for deletion receipts and benchmarks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


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


_observers = threading.local()


@contextmanager
def observe_calls() -> Iterator[list[CallRecord]]:
    """Collect every call that clients complete on this thread inside the block (opt-in, per thread).

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


def report_call(record: CallRecord) -> None:
    """Hand a finished call to the observers of the current thread, if any."""
    for collected in getattr(_observers, "stack", ()):
        collected.append(record)
