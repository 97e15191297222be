"""Records of the calls a client made, for deletion receipts and benchmarks."""

from __future__ import annotations

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
