"""The status document: one JSON answer to "where is my request, and what happened to each category".

Pure functions (no I/O, no clock) so the orchestrator can build the document deterministically; the
schema is published in ``docs/status.schema.json`` and pinned by a test.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any, Literal, get_args

from dsr.contract import DsrRequest
from dsr.times import format_time
from dsr.units import UnitResult

SCHEMA_VERSION = "1.0"

RequestState = Literal[
    "pending", "awaiting_approval", "running", "succeeded", "partially_succeeded", "failed", "canceled"
]
REQUEST_STATES: tuple[str, ...] = get_args(RequestState)
CategoryState = Literal[
    "pending", "running", "succeeded", "failed", "not_attributable", "manual_action_required", "skipped"
]
TERMINAL_STATES = frozenset({"succeeded", "partially_succeeded", "failed", "canceled"})
PROGRESS_ERROR_LENGTH = 200
"""Errors are cut to this in Durable custom status, which must stay under 16 KB."""
_OK_CATEGORY_STATES = frozenset({"succeeded", "not_attributable", "manual_action_required", "skipped"})


def due_date(received: datetime, months: int = 1) -> datetime:
    """GDPR Art. 12(3): one month from receipt (same day ``months`` later, clamped to the month's end).

    An extension (by up to two further months) passes ``months`` = 1 + the extension.
    """
    index = received.month - 1 + months
    year, month = received.year + index // 12, index % 12 + 1
    day = min(received.day, calendar.monthrange(year, month)[1])
    return received.replace(year=year, month=month, day=day)


def _deadline(request: DsrRequest, received: datetime) -> tuple[str, dict[str, Any] | None]:
    """``dueAt`` and the recorded extension (None when the request set none)."""
    base = format_time(due_date(received))
    # .get: requests started before extensions existed carry no such key in their Durable input.
    extension = request.get("extension")
    if extension is None:
        return base, None
    due = format_time(due_date(received, 1 + extension["months"]))
    return due, {"months": extension["months"], "reason": extension["reason"], "originalDueAt": base}


def manual_actions(categories: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """What the customer must still do themselves: one entry per category the API could not finish.

    A delete whose only remaining categories are these still ends ``succeeded`` (everything the API
    can delete is gone), so this list is what says it is not all over.
    """
    return [
        {"category": name, "action": entry["note"] or "see the category's receipt"}
        for name, entry in categories.items()
        if entry["state"] == "manual_action_required"
    ]


def request_echo(request: DsrRequest) -> dict[str, Any]:
    """The request as submitted, minus anything sensitive: a secret name, never a key; metadata keys only."""
    subject = request["subject"]
    return {
        "account": dict(request["account"]),
        "categories": list(request["categories"]),
        "projectIds": request["projectIds"],
        "subject": None
        if subject is None
        else {"metadataKeys": subject["metadataKeys"], "predictions": subject["predictions"]},
        "dryRun": request["dryRun"],
        "zip": request.get("zip", False),
        # Only the host: the URL's path or query may carry a signature (SAS ``sig=``).
        "callbackHost": request["callbackHost"],
    }


def new_category_entry(state: CategoryState = "pending") -> dict[str, Any]:
    return {
        "state": state,
        "counts": {},
        "files": [],
        "receipt": None,
        "verified": None,
        "error": None,
        "note": None,
    }


def initial_document(
    request: DsrRequest, received: datetime, state: RequestState = "pending"
) -> dict[str, Any]:
    """The document as it stands before any category ran."""
    due, extension = _deadline(request, received)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "requestId": request["requestId"],
        "operation": request["operation"],
        "state": state,
        "receivedAt": format_time(received),
        "dueAt": due,
        "extension": extension,
        "completedAt": None,
        "request": request_echo(request),
        "categories": {category: new_category_entry() for category in request["categories"]},
        "manifest": None,
        "statusFile": None,
        "approval": None,
        "callback": None,
        "projectsNotFound": [],
        "manualActions": [],
        "attempts": [],
        "cancellation": None,
        "error": None,
        "retention": None,
    }


def merge_units(operation: str, category: str, results: list[UnitResult]) -> dict[str, Any]:
    """Fold the unit results of one category into its status entry."""
    entry = new_category_entry()
    counts: dict[str, int] = {}
    states = {r["state"] for r in results}
    for result in results:
        for name, value in result["counts"].items():
            counts[name] = counts.get(name, 0) + value
        entry["files"].extend(result["files"])
    entry["counts"] = counts
    notes = sorted({r["note"] for r in results if r["note"]})
    entry["note"] = " ".join(notes) if notes else None
    if "failed" in states:
        entry["state"] = "failed"
    elif states == {"not_attributable"}:
        entry["state"] = "not_attributable"
    elif states == {"manual_action_required"}:
        entry["state"] = "manual_action_required"
    else:
        entry["state"] = "succeeded"
    if operation == "delete":
        verified = [r["verified"] for r in results if r["state"] == "succeeded"]
        entry["verified"] = None if not verified or None in verified else all(v is True for v in verified)
    return entry


def overall_state(categories: dict[str, dict[str, Any]]) -> RequestState:
    states = [entry["state"] for entry in categories.values()]
    if not states:
        return "succeeded"
    failed = sum(1 for s in states if s == "failed")
    if failed == 0 and all(s in _OK_CATEGORY_STATES for s in states):
        return "succeeded"
    if failed == len(states):
        return "failed"
    if failed:
        return "partially_succeeded"
    return "running"


def progress(document: dict[str, Any]) -> dict[str, Any]:
    """A compact copy for Durable custom status (which is limited to 16 KB): no file lists."""
    return {
        "requestId": document["requestId"],
        "state": document["state"],
        "categories": {
            name: {
                "state": entry["state"],
                "counts": entry["counts"],
                "verified": entry["verified"],
                "error": None if entry["error"] is None else entry["error"][:PROGRESS_ERROR_LENGTH],
            }
            for name, entry in document["categories"].items()
        },
        "approval": document["approval"],
        "attempts": document["attempts"],
        # Why a request is stuck or about to fail (e.g. Key Vault unreachable), before it has finished.
        "error": document["error"],
    }


def completed(document: dict[str, Any], now: datetime, state: RequestState | None = None) -> dict[str, Any]:
    finished = dict(document)
    finished["state"] = state or overall_state(document["categories"])
    finished["completedAt"] = format_time(now)
    finished["manualActions"] = manual_actions(document["categories"])
    return finished
