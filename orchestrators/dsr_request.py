"""The request orchestrator and its sub-orchestrators.

``dsr_request``  resolve the account → (delete: optional approval gate) → categories, one
                 ``dsr_category`` sub-orchestration each (export: all at once; delete: phase by phase
                 in dependency order) → write the status document.
``dsr_category`` the units of one category (per project where the category is big); a failure is
                 caught here, so one category never stops the others.
``dsr_paged_unit`` calls a paging unit (image export, and delete units that stop at their time
                 budget) until its cursor runs out, keeping every history short however big a
                 project is and every activity call well inside the host's functionTimeout.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from dsr.categories import DELETE_PHASES, Category, ordered
from dsr.status import (
    completed,
    format_time,
    initial_document,
    merge_units,
    new_category_entry,
    parse_time,
    progress,
)
from dsr.units import Job, UnitResult, category_entries, make_job, phase_units, plan_units
from orchestrators import names

bp = df.Blueprint()

ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=4)
"""Transient failures (throttling, 5xx, storage hiccups) get three more tries; permanent ones are
returned as failed results by the activities and are not retried."""

Orchestration = Generator[Any, Any, Any]


def _error_text(exc: Exception) -> str:
    """The customer-visible error of a failed activity or sub-orchestration: its first line.

    Azure hands the orchestrator ``Activity function 'x' failed:  <Type>: <message> \n <details>``
    (the host's scrubbed text; details hold the serialized exception with its traceback, which must
    not reach the customer). devhost produces the same text; runs of spaces are folded into one.
    """
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return " ".join(first.split())[:500]


def _skip_all(document: dict[str, Any], categories: list[str] | None = None) -> None:
    """Mark ``categories`` (default: all) skipped; a retry's carried categories keep their outcome."""
    for name, entry in document["categories"].items():
        if categories is None or name in categories:
            entry["state"] = "skipped"


def _phases(operation: str, categories: list[str]) -> list[list[str]]:
    requested = {Category(c) for c in categories}
    if operation == "export":
        return [[c.value for c in ordered(requested)]]
    return [
        [c.value for c in ordered(set(phase) & requested)]
        for phase in DELETE_PHASES
        if set(phase) & requested
    ]


@bp.orchestration_trigger(context_name="context", orchestration=names.DSR_REQUEST)
def dsr_request(context: df.DurableOrchestrationContext) -> Orchestration:
    payload = context.get_input()
    request = payload["request"]
    callback = request["callbackFile"]
    received = parse_time(payload["receivedAt"])
    document = initial_document(request, received, "running")
    retry = payload.get("retry")
    if retry:  # a retry runs only the failed categories; the others are carried from the last attempt
        document["categories"].update(retry["carried"])
        document["attempts"] = retry["attempts"]
        document["approval"] = retry["approval"]
    to_run: list[str] = retry["categories"] if retry else request["categories"]
    context.set_custom_status(progress(document))

    run = payload.get("run")  # absent only in instances started before run tickets existed
    if run is not None:
        claimed = yield context.call_activity_with_retry(
            names.CLAIM_RUN, ACTIVITY_RETRY, {"requestId": request["requestId"], "run": run}
        )
        if not claimed["owner"]:  # a duplicate start of a finished attempt: run nothing
            return claimed["document"]

    try:
        resolution = yield context.call_activity_with_retry(names.RESOLVE_ACCOUNT, ACTIVITY_RETRY, request)
    except Exception as exc:
        resolution = {"error": _error_text(exc)}
    if "error" in resolution:
        document["error"] = resolution["error"]
        _skip_all(document, to_run)
        return (
            yield from _finish(context, completed(document, context.current_utc_datetime, "failed"), callback)
        )

    document["projectsNotFound"] = resolution["missingProjectIds"]
    document["projects"] = resolution["projects"]  # ids and names: the pages name what they cover
    job = make_job(request, resolution["account"], [p["id"] for p in resolution["projects"]])

    approval = payload.get("approval") or {}
    if request["operation"] == "delete" and not request["dryRun"] and approval.get("required"):
        decision = yield from _await_approval(context, document, float(approval["timeoutHours"]))
        if decision is not None:
            return (yield from _finish(context, decision, callback))

    for phase in _phases(request["operation"], to_run):
        yield from _run_phase(context, document, job, phase)
    return (yield from _finish(context, completed(document, context.current_utc_datetime), callback))


def _await_approval(
    context: df.DurableOrchestrationContext, document: dict[str, Any], timeout_hours: float
) -> Generator[Any, Any, dict[str, Any] | None]:
    """Wait for ``approval``; returns the finished document when rejected or expired, else None."""
    deadline = context.current_utc_datetime + timedelta(hours=timeout_hours)
    document["state"] = "awaiting_approval"
    document["approval"] = {"required": True, "deadline": format_time(deadline), "decision": None}
    context.set_custom_status(progress(document))
    event = context.wait_for_external_event(names.APPROVAL_EVENT)
    timer = context.create_timer(deadline)
    winner = yield context.task_any([event, timer])
    if winner is not event:
        document["approval"]["decision"] = "expired"
        document["error"] = "approval deadline passed; nothing was deleted"
        _skip_all(document)
        return completed(document, context.current_utc_datetime, "canceled")
    timer.cancel()
    raw = event.result
    # The Python client double-encodes event data (azure-functions-durable-python#295): accept both.
    decision = json.loads(raw) if isinstance(raw, str) else raw
    document["approval"].update(
        {
            "decision": decision.get("decision", "approve"),
            "by": decision.get("by"),
            "principal": decision.get("principal"),
            "at": format_time(context.current_utc_datetime),
            "comment": decision.get("comment"),
        }
    )
    if document["approval"]["decision"] != "approve":
        document["error"] = "the delete was rejected by the approver; nothing was deleted"
        _skip_all(document)
        return completed(document, context.current_utc_datetime, "canceled")
    document["state"] = "running"
    context.set_custom_status(progress(document))
    return None


def _run_phase(
    context: df.DurableOrchestrationContext, document: dict[str, Any], job: Job, phase: list[str]
) -> Generator[Any, Any, None]:
    serves = phase_units(job["operation"], phase, job["subject"] is not None)
    pending: dict[Any, str] = {}
    for unit_name, categories in serves.items():
        for category in categories:
            document["categories"][category]["state"] = "running"
        task = context.call_sub_orchestrator(
            names.DSR_CATEGORY,
            {"job": job, "category": unit_name},
            f"{context.instance_id}:{unit_name}",
        )
        pending[task] = unit_name
    context.set_custom_status(progress(document))
    while pending:
        done = yield context.task_any(list(pending))
        unit_name = pending.pop(done)
        if isinstance(done.result, Exception):  # dsr_category itself crashed: record, carry on
            entry = new_category_entry("failed")
            entry["error"] = _error_text(done.result)
        else:
            entry = done.result
        document["categories"].update(category_entries(unit_name, serves[unit_name], entry))
        context.set_custom_status(progress(document))


def _finish(
    context: df.DurableOrchestrationContext, document: dict[str, Any], callback_file: str | None
) -> Generator[Any, Any, Any]:
    """Write the status document, then tell the caller's callback URL (if any) and record how that went."""
    context.set_custom_status(progress(document))
    written = yield context.call_activity_with_retry(names.WRITE_STATUS, ACTIVITY_RETRY, document)
    if not callback_file:
        return written
    try:
        outcome = yield context.call_activity_with_retry(
            names.NOTIFY_CALLBACK, ACTIVITY_RETRY, {"callbackFile": callback_file, "document": written}
        )
    except Exception as exc:
        outcome = {"delivered": False, "status": None, "error": _error_text(exc)}
    written["callback"] = outcome
    return (yield context.call_activity_with_retry(names.WRITE_STATUS, ACTIVITY_RETRY, written))


@bp.orchestration_trigger(context_name="context", orchestration=names.DSR_CATEGORY)
def dsr_category(context: df.DurableOrchestrationContext) -> Orchestration:
    payload = context.get_input()
    job: Job = payload["job"]
    category: str = payload["category"]
    units = plan_units(category, job)
    tasks = []
    for unit in units:
        # Units that hand back a cursor (image export pages; delete units, which stop at their time
        # budget) run in a sub-orchestration that calls them until they are done.
        paged = category == Category.IMAGES if job["operation"] == "export" else unit["projectId"] is not None
        if paged:
            child = f"{context.instance_id}:{unit['projectId']}"
            tasks.append(
                context.call_sub_orchestrator(names.DSR_PAGED_UNIT, {"job": job, "unit": unit}, child)
            )
        else:
            tasks.append(
                context.call_activity_with_retry(names.RUN_UNIT, ACTIVITY_RETRY, {"job": job, "unit": unit})
            )
    try:
        results: list[UnitResult] = (yield context.task_all(tasks)) if tasks else []
    except Exception as exc:
        entry = new_category_entry("failed")
        entry["error"] = _error_text(exc)
        return entry
    entry = merge_units(job["operation"], category, results)
    failures = [r["note"] for r in results if r["state"] == "failed" and r["note"]]
    if failures:
        entry["error"] = "; ".join(sorted(set(failures)))[:1000]
    if job["operation"] == "delete":
        entry["receipt"] = {"files": entry["files"]}
        entry["files"] = []
    return entry


@bp.orchestration_trigger(context_name="context", orchestration=names.DSR_PAGED_UNIT)
def dsr_paged_unit(context: df.DurableOrchestrationContext) -> Orchestration:
    """One activity call per generation, then continue-as-new with the cursor: the history of this
    instance stays a few events long however many pages the project has."""
    payload = context.get_input()
    job: Job = payload["job"]
    unit = dict(payload["unit"])
    combined: UnitResult | None = payload.get("combined")
    result: UnitResult = yield context.call_activity_with_retry(
        names.RUN_UNIT, ACTIVITY_RETRY, {"job": job, "unit": unit}
    )
    if combined is None:
        combined = result
    else:
        for name, value in result["counts"].items():
            combined["counts"][name] = combined["counts"].get(name, 0) + value
        combined["files"].extend(result["files"])
        if result["verified"] is not None:  # a delete unit verifies in its last call
            combined["verified"] = result["verified"]
        combined["note"] = result["note"] or combined["note"]
        if result["state"] == "failed":
            combined["state"], combined["note"] = "failed", result["note"]
    if result["state"] == "failed" or result["next"] is None:
        combined["next"] = None
        return combined
    unit["cursor"] = result["next"]
    context.continue_as_new({"job": job, "unit": unit, "combined": combined})
    return None
