"""Client-side rate limit shared by every thread that uses one client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class RateLimiter(Protocol):
    """What the client waits on before each API call."""

    def acquire(self) -> float: ...


class TokenBucket:
    """A token bucket of ``rate`` tokens per second holding at most ``burst`` tokens.

    ``acquire`` reserves a token under the lock and sleeps outside it, so concurrent callers queue up in
    arrival order without holding the lock while they wait.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._fixed_burst = burst
        self._burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self._burst
        self._updated = clock()

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on (tokens already earned are kept, capped at the burst, which
        follows the rate unless one was given)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._rate = rate
            self._burst = max(1.0, self._fixed_burst if self._fixed_burst is not None else rate)
            self._tokens = min(self._tokens, self._burst)

    def acquire(self) -> float:
        """Take one token, sleeping until it is available. Returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1.0
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
