"""The status document: one JSON answer to "where is my request, and what happened to each category".

The one writer of the document (:class:`dsr.wire.StatusDocument`): small pure transitions (no I/O, no
clock; the caller passes the time) that each return a new document, so the orchestrator only
sequences work and stays deterministic on replay. The schema is published in
``docs/status.schema.json`` and pinned by a test.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any, Literal, cast, get_args

from dsr import layout
from dsr.categories import Category
from dsr.contract import DsrRequest
from dsr.times import format_time, parse_time
from dsr.units import (
    ITERATIONS_UNIT,
    PERFORMANCE_COUNTS,
    ProjectSummary,
    UnitResult,
    phase_units,
    unit_category,
)
from dsr.wire import (
    Approval,
    ApprovalDecision,
    CallbackOutcome,
    CategoryEntry,
    CategoryState,
    Extension,
    Progress,
    RequestInput,
    RequestState,
    Resolved,
    StatusDocument,
)

SCHEMA_VERSION = "1.0"

REQUEST_STATES: tuple[str, ...] = get_args(RequestState)
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


def _deadline(request: DsrRequest, received: datetime) -> tuple[str, Extension | None]:
    """``dueAt`` and the recorded extension (None when the request set none)."""
    base = format_time(due_date(received))
    # .get: requests started before extensions existed carry no such key in their Durable input.
    extension = request.get("extension")
    if extension is None:
        return base, None
    due = format_time(due_date(received, 1 + extension["months"]))
    return due, {"months": extension["months"], "reason": extension["reason"], "originalDueAt": base}


def manual_actions(categories: dict[str, CategoryEntry]) -> list[dict[str, str]]:
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


def new_category_entry(state: CategoryState = "pending") -> CategoryEntry:
    """A category's entry before any of its units reported."""
    return {
        "state": state,
        "counts": {},
        "files": [],
        "receipt": None,
        "verified": None,
        "error": None,
        "note": None,
    }


def failed_entry(error: str) -> CategoryEntry:
    """The entry of a category whose work could not be run at all (its sub-orchestration crashed)."""
    entry = new_category_entry("failed")
    entry["error"] = error
    return entry


def initial_document(
    request: DsrRequest, received: datetime, state: RequestState = "pending"
) -> StatusDocument:
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


def merge_units(operation: str, category: str, results: list[UnitResult]) -> CategoryEntry:
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


def category_outcome(operation: str, category: str, results: list[UnitResult]) -> CategoryEntry:
    """The entry of one category (or shared unit) once all its units ran: merged, with the failed
    units' notes as its error; a delete's files are its receipts."""
    entry = merge_units(operation, category, results)
    failures = [r["note"] for r in results if r["state"] == "failed" and r["note"]]
    if failures:
        entry["error"] = "; ".join(sorted(set(failures)))[:1000]
    if operation == "delete":
        entry["receipt"] = {"files": entry["files"]}
        entry["files"] = []
    return entry


def split_shared_entry(entry: CategoryEntry, category: str) -> CategoryEntry:
    """The part of a shared images entry that belongs to ``category`` (images or iterationPerformance)."""
    performance = category == Category.ITERATION_PERFORMANCE
    part = entry.copy()
    part["counts"] = {
        name: value
        for name, value in entry["counts"].items()
        if (name in PERFORMANCE_COUNTS) == performance  # apiCalls and throttled stay with images
    }
    part["files"] = [f for f in entry["files"] if layout.is_performance_file(f["path"]) == performance]
    if performance:
        part["note"] = "exported together with images, from one listing of each trained iteration"
    return part


def category_entries(unit_name: str, categories: list[str], entry: CategoryEntry) -> dict[str, CategoryEntry]:
    """The status entry of each category a unit served, from the unit's one merged entry."""
    entries = {}
    for category in categories:
        shared = entry.copy()
        if unit_name == ITERATIONS_UNIT:
            shared["note"] = "removed by DeleteIteration together with the other iteration categories"
        elif len(categories) > 1:
            shared = split_shared_entry(entry, category)
        entries[category] = shared
    return entries


def current_attempt(document: StatusDocument) -> int:
    """The attempt the request of ``document`` is in: one after those its ``attempts`` list."""
    return len(document.get("attempts") or []) + 1


def with_progress(document: StatusDocument, by_unit: dict[str, dict[str, int]]) -> StatusDocument:
    """A running request's document with the counts its paging units reported so far
    (:func:`dsr.progress.progress_by_unit`) as the counts of the categories still running."""
    request = document["request"]
    serves = phase_units(document["operation"], list(request["categories"]), request["subject"] is not None)
    categories = dict(document["categories"])
    for unit_name, counts in by_unit.items():
        served = serves.get(unit_name, [])
        so_far = new_category_entry("running")
        so_far["counts"] = counts
        for name, entry in category_entries(unit_name, served, so_far).items():
            current = categories.get(name)
            if current is not None and current["state"] == "running":
                categories[name] = {**current, "counts": entry["counts"]}
    updated = document.copy()
    updated["categories"] = categories
    return updated


def overall_state(categories: dict[str, CategoryEntry]) -> RequestState:
    """The request's state from its categories' (``running`` while any is unfinished)."""
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


def progress(document: StatusDocument) -> Progress:
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


# Transitions, in the order a request goes through them. Each returns a new document.


def start_attempt(stored: RequestInput) -> StatusDocument:
    """The running document of one attempt; a retry carries the categories it does not run again."""
    document = initial_document(stored["request"], parse_time(stored["receivedAt"]), "running")
    retry = stored.get("retry")
    if retry:
        document["categories"] = {**document["categories"], **retry["carried"]}
        document["attempts"] = retry["attempts"]
        document["approval"] = retry["approval"]
    return document


def _skipped(document: StatusDocument, categories: list[str] | None) -> dict[str, CategoryEntry]:
    """``categories`` (default: all) marked skipped; a retry's carried categories keep their outcome."""
    return {
        name: {**entry, "state": "skipped"} if categories is None or name in categories else entry
        for name, entry in document["categories"].items()
    }


def resolution_failed(
    document: StatusDocument, error: str, categories: list[str], now: datetime
) -> StatusDocument:
    """The finished document of a request whose account could not be resolved: nothing ran."""
    failed = document.copy()
    failed["error"] = error
    failed["categories"] = _skipped(document, categories)
    return finish(failed, now, "failed")


def with_projects(
    document: StatusDocument, resolution: Resolved, earlier: list[ProjectSummary] | None = None
) -> StatusDocument:
    """The projects in scope (ids and names: the pages name what they cover) and the missing ones.

    A retry keeps the ``earlier`` attempts' projects in scope after the ones found now, gone or not:
    their units report what was done to them. One of them missing now was deleted, not unknown.
    """
    found = {p["id"] for p in resolution["projects"]}
    kept = [p for p in earlier or [] if p["id"] not in found]
    known = {p["id"] for p in kept}
    resolved = document.copy()
    resolved["projectsNotFound"] = [pid for pid in resolution["missingProjectIds"] if pid not in known]
    resolved["projects"] = [*resolution["projects"], *kept]
    return resolved


def await_approval(document: StatusDocument, deadline: datetime) -> StatusDocument:
    """A delete waiting for an approver's decision until ``deadline``."""
    waiting = document.copy()
    waiting["state"] = "awaiting_approval"
    waiting["approval"] = {"required": True, "deadline": format_time(deadline), "decision": None}
    return waiting


def _canceled_before_start(
    document: StatusDocument, approval: Approval, error: str, now: datetime
) -> StatusDocument:
    canceled = document.copy()
    canceled["approval"] = approval
    canceled["error"] = error
    canceled["categories"] = _skipped(document, None)
    return finish(canceled, now, "canceled")


def approval_expired(document: StatusDocument, now: datetime) -> StatusDocument:
    """The finished document of a delete nobody decided on in time: canceled, nothing deleted."""
    approval = cast(Approval, document["approval"])
    return _canceled_before_start(
        document, {**approval, "decision": "expired"}, "approval deadline passed; nothing was deleted", now
    )


def record_decision(document: StatusDocument, decision: ApprovalDecision, now: datetime) -> StatusDocument:
    """The approver's decision recorded: running again when approved, else finished (canceled).

    ``decision`` is read leniently (``.get``): events raised before a key existed still replay.
    """
    approval: Approval = {
        **cast(Approval, document["approval"]),
        "decision": decision.get("decision", "approve"),
        "by": decision.get("by"),
        "principal": decision.get("principal"),
        "at": format_time(now),
        "comment": decision.get("comment"),
    }
    if approval["decision"] != "approve":
        error = "the delete was rejected by the approver; nothing was deleted"
        return _canceled_before_start(document, approval, error, now)
    approved = document.copy()
    approved["approval"] = approval
    approved["state"] = "running"
    return approved


def mark_running(document: StatusDocument, categories: list[str]) -> StatusDocument:
    """``categories`` started (their unit's sub-orchestration was scheduled)."""
    running = document.copy()
    running["categories"] = {
        name: {**entry, "state": "running"} if name in categories else entry
        for name, entry in document["categories"].items()
    }
    return running


def record_category(
    document: StatusDocument, unit_name: str, categories: list[str], entry: CategoryEntry
) -> StatusDocument:
    """The outcome of one unit (one category, or a shared unit serving ``categories``) recorded."""
    recorded = document.copy()
    recorded["categories"] = {**document["categories"], **category_entries(unit_name, categories, entry)}
    return recorded


def finish(document: StatusDocument, now: datetime, state: RequestState | None = None) -> StatusDocument:
    """The finished document: its final state (from its categories unless given), when and what is
    left for the customer to do by hand."""
    finished = document.copy()
    finished["state"] = state or overall_state(document["categories"])
    finished["completedAt"] = format_time(now)
    finished["manualActions"] = manual_actions(document["categories"])
    return finished


def with_callback(document: StatusDocument, outcome: CallbackOutcome) -> StatusDocument:
    """How telling the caller's callback URL went."""
    notified = document.copy()
    notified["callback"] = outcome
    return notified


def with_manifest(
    document: StatusDocument, manifest: dict[str, Any], index: dict[str, Any], delivery: dict[str, Any] | None
) -> StatusDocument:
    """An export's document pointing at its package: manifest, index page and (if asked) the zip."""
    packaged = document.copy()
    packaged["manifest"] = manifest
    packaged["index"] = index
    if delivery is not None:
        packaged["delivery"] = delivery
    return packaged


def with_certificate(document: StatusDocument, certificate: dict[str, Any]) -> StatusDocument:
    """A delete's document pointing at its erasure certificate."""
    certified = document.copy()
    certified["receipt"] = certificate
    return certified


def with_sealed_receipts(document: StatusDocument, sealed: dict[str, dict[str, Any]]) -> StatusDocument:
    """A delete's document pointing at the sealed copies of its receipts (``sealed``: by path)."""
    resealed = document.copy()
    resealed["categories"] = {
        name: entry
        if entry["receipt"] is None
        else {**entry, "receipt": {"files": [sealed[f["path"]] for f in entry["receipt"]["files"]]}}
        for name, entry in document["categories"].items()
    }
    return resealed


def with_status_file(
    document: StatusDocument, path: str, retention: dict[str, Any] | None = None
) -> StatusDocument:
    """The document as it is stored: where it is kept, and its retention (the first write's is kept)."""
    stored = document.copy()
    stored["retention"] = document.get("retention") or retention
    stored["statusFile"] = {"path": path}
    return stored


def canceled(
    document: StatusDocument,
    cancellation: dict[str, Any] | None,
    error: str,
    receipts: dict[str, list[dict[str, Any]]],
) -> StatusDocument:
    """``document`` (as far as the request got) marked canceled by ``cancellation`` (None: terminated
    outside the API), with the receipts its delete units wrote so far (``receipts``: by unit)."""
    stopped = document.copy()
    stopped["state"] = "canceled"
    stopped["cancellation"] = cancellation
    stopped["completedAt"] = cancellation["at"] if cancellation else document.get("completedAt")
    stopped["error"] = error
    categories: dict[str, CategoryEntry] = {}
    for name, entry in document["categories"].items():
        entry = entry.copy()
        if entry["state"] in ("pending", "running"):
            entry["state"] = "skipped"
            entry["note"] = entry.get("note") or "not finished when the request was canceled"
        files = receipts.get(unit_category(name, document["operation"]))
        if document["operation"] == "delete" and files:
            entry["receipt"] = {"files": sorted(files, key=lambda f: f["path"])}
        categories[name] = entry
    stopped["categories"] = categories
    return stopped


def with_expiry(
    document: StatusDocument, terms: dict[str, Any], at: str, reason: str, files_deleted: int
) -> StatusDocument:
    """A finished request's document once the purge deleted ``files_deleted`` more of its working
    copies: its retention block (``terms`` if it had none) says when and why, counting every purge."""
    retention = dict(document.get("retention") or terms)
    earlier = (retention.get("expired") or {}).get("filesDeleted", 0)
    retention["expired"] = {"at": at, "reason": reason, "filesDeleted": earlier + files_deleted}
    expired = document.copy()
    expired["retention"] = retention
    return expired


DurablePhase = Literal["running", "terminated", "failed"]


def from_durable(stored: RequestInput, custom_status: object, phase: DurablePhase) -> StatusDocument:
    """The document of an instance that has not returned its own: its input and its last progress.

    ``phase`` is how Durable reports the instance: ``running`` (a terminal state in its progress
    means the status file is still being written, so it shows as running), ``terminated`` (the caller
    marks it canceled) or ``failed`` (it crashed: failed, with no details for the customer).
    """
    document = start_attempt(stored)  # a retry's earlier attempts and carried categories, before any progress
    document["state"] = "pending"
    if isinstance(custom_status, dict) and custom_status:
        reported = cast(Progress, custom_status)
        document["state"] = reported["state"]
        document["approval"] = reported.get("approval")
        document["attempts"] = reported.get("attempts", [])
        document["error"] = reported.get("error")
        document["categories"] = {
            **document["categories"],
            **{
                name: {**document["categories"].get(name, new_category_entry()), **entry}
                for name, entry in reported["categories"].items()
            },
        }
    if phase == "running" and document["state"] in TERMINAL_STATES:
        document["state"] = "running"
    elif phase == "failed":
        document["state"] = "failed"
        document["error"] = "the request failed unexpectedly; operators can find details in the logs"
    return document
