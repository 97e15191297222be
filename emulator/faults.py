"""Random faults and holds: how the emulator misbehaves on purpose, per account.

A :class:`FaultPlan` gives each fault kind a probability per call:

``http500`` / ``http503``  an error status with a CustomVisionError body
``http429``                APIM-style throttling with ``Retry-After: retry_after_seconds``
``reset``                  the connection is dropped with a TCP RST, nothing is answered or done
``slow``                   the call stalls ``slow_seconds`` (by default past the client's 30 s timeout),
                           then is carried out and answered as usual (to a client that may have gone)

Calls are Training API operations by name (``GetImages``, ``DeleteImages``...) and blob downloads
(``DownloadImage``, ``DownloadPrediction``, ``DownloadThumbnail``, ``DownloadModel``). Whether the
n-th call of an operation fails is a pure function of (seed, operation, n), so a sequential test sees
the same faults every run, and concurrent callers still see the same faults per operation and position.

A :class:`Hold` stops calls of one operation after the first ``after`` of them until it is released,
so a test can kill the caller at an exact point (e.g. after two DeleteImages batches); the held call is
then dropped (never happened) or applied (happened, but the caller never heard).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FAULT_KINDS: tuple[str, ...] = ("http500", "http503", "http429", "reset", "slow")
STATUS_OF_KIND: Mapping[str, int] = {"http500": 500, "http503": 503, "http429": 429}
BLOB_OPERATIONS: Mapping[str, str] = {
    "images": "DownloadImage",
    "predictions": "DownloadPrediction",
    "projects": "DownloadThumbnail",
    "exports": "DownloadModel",
}
"""Operation names of blob downloads, by the blob path's kind segment."""
DEFAULT_SLOW_SECONDS = 35.0
"""Longer than the app client's default 30 s read timeout, so a slow call times out."""
HOLD_LIMIT_SECONDS = 300.0
"""A forgotten hold releases itself after this long rather than hanging a server thread for ever."""

HoldThen = Literal["drop", "apply"]


class FaultPlanError(ValueError):
    """A fault plan that cannot be used (unknown kind, probability out of range, bad field)."""


def _probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise FaultPlanError(f"probability of {name} must be a number from 0 to 1")
    return float(value)


def _non_negative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultPlanError(f"{name} must be a non-negative number")
    return float(value)


@dataclass(frozen=True)
class FaultPlan:
    """Per-call fault probabilities of one account (their sum is the chance that a call fails)."""

    probabilities: Mapping[str, float]
    seed: int = 0
    operations: frozenset[str] = frozenset()
    """Calls the plan applies to; empty: every API call and download."""
    retry_after_seconds: int = 1
    slow_seconds: float = DEFAULT_SLOW_SECONDS

    def __post_init__(self) -> None:
        unknown = set(self.probabilities) - set(FAULT_KINDS)
        if unknown:
            raise FaultPlanError(f"unknown fault kind(s) {sorted(unknown)}; use {', '.join(FAULT_KINDS)}")
        for kind, value in self.probabilities.items():
            _probability(kind, value)
        if sum(self.probabilities.values()) > 1.0 + 1e-9:
            raise FaultPlanError("fault probabilities add up to more than 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise FaultPlanError("seed must be an integer")
        if isinstance(self.retry_after_seconds, bool) or not isinstance(self.retry_after_seconds, int):
            raise FaultPlanError("retryAfterSeconds must be an integer")
        if self.retry_after_seconds < 0:
            raise FaultPlanError("retryAfterSeconds must be non-negative")
        _non_negative("slowSeconds", self.slow_seconds)

    @classmethod
    def uniform(cls, rate: float, kinds: tuple[str, ...] = FAULT_KINDS, **options: Any) -> FaultPlan:
        """``rate`` spread evenly over ``kinds`` (e.g. 0.2 over five kinds: 4 % each)."""
        return cls({kind: rate / len(kinds) for kind in kinds}, **options)

    @classmethod
    def from_json(cls, payload: object) -> FaultPlan:
        """The admin API's shape: ``{"probabilities": {...}, "seed", "operations", "retryAfterSeconds",
        "slowSeconds"}``."""
        if not isinstance(payload, dict):
            raise FaultPlanError("a fault plan must be a JSON object")
        known = {"probabilities", "seed", "operations", "retryAfterSeconds", "slowSeconds"}
        if set(payload) - known:
            raise FaultPlanError(f"unknown field(s) {sorted(set(payload) - known)}")
        probabilities = payload.get("probabilities")
        if not isinstance(probabilities, dict):
            raise FaultPlanError("probabilities must be an object of kind -> probability")
        operations = payload.get("operations", [])
        if not isinstance(operations, list) or not all(isinstance(op, str) for op in operations):
            raise FaultPlanError("operations must be a list of operation names")
        return cls(
            probabilities={str(k): _probability(str(k), v) for k, v in probabilities.items()},
            seed=payload.get("seed", 0),
            operations=frozenset(operations),
            retry_after_seconds=payload.get("retryAfterSeconds", 1),
            slow_seconds=_non_negative("slowSeconds", payload.get("slowSeconds", DEFAULT_SLOW_SECONDS)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "probabilities": dict(self.probabilities),
            "seed": self.seed,
            "operations": sorted(self.operations),
            "retryAfterSeconds": self.retry_after_seconds,
            "slowSeconds": self.slow_seconds,
        }

    def kind_for(self, operation: str, position: int) -> str | None:
        """The fault (or None) of the ``position``-th call of ``operation``: the same for the same seed."""
        if self.operations and operation not in self.operations:
            return None
        digest = hashlib.blake2b(f"{self.seed}/{operation}/{position}".encode(), digest_size=8).digest()
        draw = int.from_bytes(digest, "big") / 2**64
        for kind in FAULT_KINDS:
            draw -= self.probabilities.get(kind, 0.0)
            if draw < 0:
                return kind
        return None


def parse_fault_spec(text: str) -> tuple[str | None, dict[str, float]]:
    """``[account:]kind=p,kind=p`` (the CLI's ``--faults``) -> (account or None for all, probabilities)."""
    account, sep, rest = text.partition(":")
    if not sep:
        account, rest = "", text
    probabilities: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        kind, eq, value = part.partition("=")
        if not eq:
            raise FaultPlanError(f"expected kind=probability, got {part!r}")
        try:
            probabilities[kind.strip()] = float(value)
        except ValueError:
            raise FaultPlanError(f"probability of {kind.strip()} is not a number") from None
    return account.strip() or None, probabilities


@dataclass(frozen=True)
class Injection:
    """What the server must do instead of (or before) answering a call normally."""

    kind: str
    """A fault kind, or ``drop``/``apply`` for a released hold."""
    retry_after_seconds: int = 1
    slow_seconds: float = 0.0


@dataclass
class Hold:
    """Hold every call of ``operation`` after the first ``after`` (counted from when it was set)."""

    operation: str
    after: int
    then: HoldThen = "drop"
    reached: threading.Event = field(default_factory=threading.Event)
    """Set once a call is being held: the caller is stuck at the chosen point."""
    seen: int = 0
    """Calls of ``operation`` that met this hold (the injector counts them under its lock)."""
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """Let held calls (and later ones) go on, each dropped or applied as ``then`` says."""
        self._released.set()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def wait(self) -> None:
        """Hold the calling server thread until released (or ``HOLD_LIMIT_SECONDS`` pass)."""
        self.reached.set()
        self._released.wait(HOLD_LIMIT_SECONDS)


@dataclass
class FaultInjector:
    """One account's random fault plan, holds and the count of faults injected per kind."""

    plan: FaultPlan | None = None
    holds: list[Hold] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    injected_by_operation: Counter[str] = field(default_factory=Counter)
    """``"<operation> <kind>"`` -> count, for reports that say where faults hit."""
    _positions: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_plan(self, plan: FaultPlan | None) -> None:
        """Start a plan (or stop with None); positions restart so a seed replays from the beginning."""
        with self._lock:
            self.plan = plan
            self._positions.clear()

    def hold(self, operation: str, after: int, then: HoldThen = "drop") -> Hold:
        """Add a hold; call ``release()`` on it (or :meth:`release_holds`) to let the calls go on."""
        if then not in ("drop", "apply"):
            raise ValueError("then must be drop or apply")
        hold = Hold(operation, after, then)
        with self._lock:
            self.holds.append(hold)
        return hold

    def release_holds(self) -> None:
        with self._lock:
            holds, self.holds = self.holds, []
        for hold in holds:
            hold.release()

    def reset_counts(self) -> None:
        with self._lock:
            self.injected.clear()
            self.injected_by_operation.clear()

    def before(self, operation: str) -> Injection | None:
        """Decide the fate of one call; blocks while a hold applies. Call without the state lock held."""
        with self._lock:
            hold = next((h for h in self.holds if h.operation == operation and not h.released), None)
            if hold is not None:
                hold.seen += 1
                if hold.seen <= hold.after:
                    hold = None
            plan = self.plan
            kind = None
            if hold is None and plan is not None:
                kind = plan.kind_for(operation, self._positions[operation])
                self._positions[operation] += 1
                if kind is not None:
                    self.injected[kind] += 1
                    self.injected_by_operation[f"{operation} {kind}"] += 1
        if hold is not None:
            hold.wait()
            return Injection(hold.then)
        if kind is None or plan is None:
            return None
        return Injection(kind, plan.retry_after_seconds, plan.slow_seconds)

    def report(self) -> dict[str, Any]:
        """JSON-ready plan and counts (the admin API's ``GET /_emulator/faults``)."""
        with self._lock:
            return {
                "plan": None if self.plan is None else self.plan.to_json(),
                "injected": dict(self.injected),
                "injectedByOperation": dict(self.injected_by_operation),
                "holds": [
                    {
                        "operation": h.operation,
                        "after": h.after,
                        "then": h.then,
                        "reached": h.reached.is_set(),
                    }
                    for h in self.holds
                ],
            }


def handle_admin(injector: FaultInjector, method: str, payload: object) -> tuple[int, Any] | None:
    """``PUT``/``DELETE /_emulator/accounts/{name}/fault-plan``; None if the method is not one of them.

    Raises :class:`FaultPlanError` for a bad plan (the admin API answers 400).
    """
    if method == "PUT":
        injector.set_plan(FaultPlan.from_json(payload))
        return 200, injector.report()
    if method == "DELETE":
        injector.set_plan(None)
        injector.release_holds()
        return 200, injector.report()
    return None


def fault_body(kind: str, retry_after_seconds: int) -> dict[str, Any]:
    """The body of an injected error status: APIM's shape for 429, the service's for 5xx."""
    if kind == "http429":
        message = f"Rate limit is exceeded. Try again in {retry_after_seconds} seconds."
        return {"error": {"code": "429", "message": message}}
    return {"code": "ErrorUnknown", "message": "Injected fault"}
