"""Per-account knobs of the emulator: rate limit, latency, delete delay, injected faults, call counters.

Random faults by probability and holds live in :mod:`emulator.faults` (``Controls.injector``)."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from emulator.faults import FaultInjector

FaultKind = Literal["status", "reset", "slow"]
ANY_OPERATION = "*"


@dataclass
class Fault:
    """Fail the next ``remaining`` calls of ``operation`` (``"*"`` for any)."""

    operation: str
    kind: FaultKind
    remaining: int
    status: int = 503
    delay_seconds: float = 0.0
    """For ``slow``: how long to stall before answering normally."""


@dataclass
class Knobs:
    rate_limit_per_second: float | None = None
    """Service-side limit; excess calls get 429 + Retry-After. ``None``: unlimited."""
    latency_seconds: float = 0.0
    """Added to every API call."""
    download_latency_seconds: float = 0.0
    """Added to every blob download (image, prediction image, model), like a remote blob store's."""
    delete_delay_seconds: float = 0.0
    """How long 202-accepted image deletions stay visible before they complete."""


@dataclass
class Controls:
    """Mutable behaviour and statistics of one account; guarded by the state's lock."""

    knobs: Knobs = field(default_factory=Knobs)
    faults: list[Fault] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    """Calls received per operation (after authentication), including throttled and faulted ones."""
    throttled: Counter[str] = field(default_factory=Counter)
    first_call_at: float | None = None
    """Monotonic time of the first call counted since the last reset (benchmarks: how long the API
    was in use, apart from the byte copying that may trail it)."""
    last_call_at: float | None = None
    injector: FaultInjector = field(default_factory=FaultInjector)
    """Random faults by probability (``injector.set_plan``), holds, and what was injected."""
    _tokens: float = 0.0
    _updated: float = 0.0

    def count(self, operation: str, now: float) -> None:
        """Count one received call of ``operation`` at monotonic time ``now``."""
        self.counters[operation] += 1
        if self.first_call_at is None:
            self.first_call_at = now
        self.last_call_at = now

    def reset(self) -> None:
        self.counters.clear()
        self.throttled.clear()
        self.first_call_at = self.last_call_at = None

    def fail_next(
        self,
        operation: str,
        count: int = 1,
        kind: FaultKind = "status",
        *,
        status: int = 503,
        delay_seconds: float = 0.0,
    ) -> None:
        """Make the next ``count`` calls of ``operation`` fail (5xx status, connection reset or stall)."""
        self.faults.append(Fault(operation, kind, count, status, delay_seconds))

    def take_fault(self, operation: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.operation in (operation, ANY_OPERATION):
                fault.remaining -= 1
                return fault
        self.faults[:] = [f for f in self.faults if f.remaining > 0]
        return None

    def throttle(self, now: float | None = None) -> float | None:
        """Consume a rate-limit token; return seconds until one is free if none is (caller sends 429)."""
        rate = self.knobs.rate_limit_per_second
        if not rate:
            return None
        now = time.monotonic() if now is None else now
        burst = max(1.0, rate)
        if self._updated == 0.0:
            self._tokens, self._updated = burst, now
        self._tokens = min(burst, self._tokens + (now - self._updated) * rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / rate

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """Retry-After is whole seconds; round up so a client that honours it is not throttled again."""
        return str(max(1, math.ceil(wait)))
