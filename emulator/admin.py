"""Admin API under ``/_emulator/`` (bearer admin token required; disabled when none was configured).

GET    /_emulator/state                           snapshot of accounts, projects, counters (no keys)
GET    /_emulator/counters                        calls per operation, per account
POST   /_emulator/counters/reset
PUT    /_emulator/accounts/{name}/knobs     {"rateLimitPerSecond", "latencySeconds",
                                             "downloadLatencySeconds", "deleteDelaySeconds"}
POST   /_emulator/accounts/{name}/faults    {"operation", "count", "kind", "status", "delaySeconds"}
                                            kind: status (5xx), reset (TCP RST) or slow (stall)
DELETE /_emulator/accounts/{name}/faults
GET    /_emulator/faults                          random fault plans and faults injected, per account
PUT    /_emulator/accounts/{name}/fault-plan {"probabilities": {kind: p}, "seed", "operations",
                                            "retryAfterSeconds", "slowSeconds"}
                                            kind: http500, http503, http429, reset or slow
DELETE /_emulator/accounts/{name}/fault-plan stop random faults (counts are kept), release holds
"""

from __future__ import annotations

from typing import Any, cast

from emulator import faults
from emulator.controls import FaultKind
from emulator.operations import ApiError
from emulator.state import Account, EmulatorState

_KNOBS = {
    "rateLimitPerSecond": "rate_limit_per_second",
    "latencySeconds": "latency_seconds",
    "downloadLatencySeconds": "download_latency_seconds",
    "deleteDelaySeconds": "delete_delay_seconds",
}
_FAULT_KINDS = {"status", "reset", "slow"}


def _account(state: EmulatorState, name: str) -> Account:
    account = state.accounts.get(name)
    if account is None:
        raise ApiError(404, "NotFound", "no such account")
    return account


def _number(payload: dict[str, Any], name: str, default: float | None) -> float | None:
    value = payload.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ApiError(400, "BadRequest", f"{name} must be a non-negative number or null")
    return float(value)


def handle(state: EmulatorState, method: str, path: str, payload: Any) -> tuple[int, Any]:
    if not isinstance(payload, dict):
        raise ApiError(400, "BadRequest", "body must be a JSON object")
    parts = [p for p in path.split("/") if p]
    if method == "GET" and parts == ["state"]:
        return 200, state.snapshot()
    if method == "GET" and parts == ["counters"]:
        with state.lock:
            return 200, {name: dict(a.controls.counters) for name, a in state.accounts.items()}
    if method == "GET" and parts == ["faults"]:
        return 200, {name: a.controls.injector.report() for name, a in state.accounts.items()}
    if len(parts) == 3 and parts[0] == "accounts" and parts[2] == "fault-plan":
        try:
            handled = faults.handle_admin(_account(state, parts[1]).controls.injector, method, payload)
        except faults.FaultPlanError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        if handled is not None:
            return handled
    if method == "POST" and parts == ["counters", "reset"]:
        state.reset_counters()
        for account in state.accounts.values():
            account.controls.injector.reset_counts()
        return 200, {"reset": True}
    if len(parts) == 3 and parts[0] == "accounts":
        with state.lock:
            controls = _account(state, parts[1]).controls
            if method == "PUT" and parts[2] == "knobs":
                for wire, attr in _KNOBS.items():
                    if wire in payload:
                        value = _number(payload, wire, None)
                        if value is None and attr != "rate_limit_per_second":
                            raise ApiError(400, "BadRequest", f"{wire} may not be null")
                        setattr(controls.knobs, attr, value)
                return 200, vars(controls.knobs).copy()
            if method == "POST" and parts[2] == "faults":
                kind = payload.get("kind", "status")
                operation = payload.get("operation")
                count = payload.get("count", 1)
                if kind not in _FAULT_KINDS or not isinstance(operation, str) or not isinstance(count, int):
                    raise ApiError(
                        400, "BadRequest", "need operation (string), count (int), kind status|reset|slow"
                    )
                status = payload.get("status", 503)
                if not isinstance(status, int) or not 400 <= status <= 599:
                    raise ApiError(400, "BadRequest", "status must be an HTTP error status")
                delay = _number(payload, "delaySeconds", 0.0) or 0.0
                controls.fail_next(
                    operation, count, cast(FaultKind, kind), status=status, delay_seconds=delay
                )
                return 200, {"pendingFaults": sum(f.remaining for f in controls.faults)}
            if method == "DELETE" and parts[2] == "faults":
                controls.faults.clear()
                return 200, {"pendingFaults": 0}
    raise ApiError(404, "NotFound", "unknown admin route")
