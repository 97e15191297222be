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

from dsr import status, wire
from dsr.categories import DELETE_PHASES, Category, ordered
from dsr.status import failed_entry, progress
from dsr.units import Job, UnitResult, combine_results, empty_result, make_job, phase_units, plan_units
from dsr.wire import (
    ApprovalDecision,
    CallbackOutcome,
    CategoryEntry,
    CategoryInput,
    ClaimRunInput,
    ClaimRunResult,
    FailedUnitInput,
    NotifyCallbackInput,
    PagedUnitInput,
    RequestInput,
    Resolution,
    RunUnitInput,
    StatusDocument,
)

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


def _phases(operation: str, categories: list[str]) -> list[list[str]]:
    requested = {Category(c) for c in categories}
    if operation == "export":
        return [[c.value for c in ordered(requested)]]
    return [
        [c.value for c in ordered(set(phase) & requested)]
        for phase in DELETE_PHASES
        if set(phase) & requested
    ]


@bp.orchestration_trigger(context_name="context", orchestration=wire.DSR_REQUEST)
def dsr_request(context: df.DurableOrchestrationContext) -> Orchestration:
    payload: RequestInput = context.get_input()
    request = payload["request"]
    callback = request["callbackFile"]
    document = status.start_attempt(payload)
    retry = payload.get("retry")
    # A retry runs only the failed (or unverified) categories; the others are carried from the last attempt.
    to_run: list[str] = retry["categories"] if retry else request["categories"]
    context.set_custom_status(progress(document))

    run = payload.get("run")  # absent only in instances started before run tickets existed
    if run is not None:
        ticket: ClaimRunInput = {"requestId": request["requestId"], "run": run}
        claimed: ClaimRunResult = yield context.call_activity_with_retry(
            wire.CLAIM_RUN, ACTIVITY_RETRY, ticket
        )
        if not claimed["owner"]:  # a duplicate start of a finished attempt: run nothing
            return claimed["document"]

    resolution: Resolution
    try:
        resolution = yield context.call_activity_with_retry(wire.RESOLVE_ACCOUNT, ACTIVITY_RETRY, request)
    except Exception as exc:
        resolution = {"kind": "failed", "error": _error_text(exc)}
    if resolution["kind"] == "failed":
        failed = status.resolution_failed(document, resolution["error"], to_run, context.current_utc_datetime)
        return (yield from _finish(context, failed, callback))

    # A delete's units for a project gone since report what their journals recorded; an export's
    # would find nothing to export, and its account-wide units read only the projects found now.
    earlier = retry.get("projects") if retry and request["operation"] == "delete" else None
    document = status.with_projects(document, resolution, earlier)
    project_ids = [p["id"] for p in document["projects"]]
    job = make_job(request, resolution["account"], project_ids, retry["attempt"] if retry else 1)

    approval = payload["approval"]
    if request["operation"] == "delete" and not request["dryRun"] and approval["required"]:
        document = yield from _await_approval(context, document, float(approval["timeoutHours"]))
        if document["state"] == "canceled":
            return (yield from _finish(context, document, callback))

    for phase in _phases(request["operation"], to_run):
        document = yield from _run_phase(context, document, job, phase)
    return (yield from _finish(context, status.finish(document, context.current_utc_datetime), callback))


def _await_approval(
    context: df.DurableOrchestrationContext, document: StatusDocument, timeout_hours: float
) -> Generator[Any, Any, StatusDocument]:
    """Wait for the approval event: the document running again, or finished (canceled) when the
    approver rejected the delete or nobody decided before the deadline."""
    deadline = context.current_utc_datetime + timedelta(hours=timeout_hours)
    document = status.await_approval(document, deadline)
    context.set_custom_status(progress(document))
    event = context.wait_for_external_event(wire.APPROVAL_EVENT)
    timer = context.create_timer(deadline)
    winner = yield context.task_any([event, timer])
    if winner is not event:
        return status.approval_expired(document, context.current_utc_datetime)
    timer.cancel()
    raw = event.result
    # The Python client double-encodes event data (azure-functions-durable-python#295): accept both.
    decision: ApprovalDecision = json.loads(raw) if isinstance(raw, str) else raw
    document = status.record_decision(document, decision, context.current_utc_datetime)
    if document["state"] == "running":
        context.set_custom_status(progress(document))
    return document


def _run_phase(
    context: df.DurableOrchestrationContext, document: StatusDocument, job: Job, phase: list[str]
) -> Generator[Any, Any, StatusDocument]:
    serves = phase_units(job["operation"], phase, job["subject"] is not None)
    pending: dict[Any, str] = {}
    for unit_name, categories in serves.items():
        document = status.mark_running(document, categories)
        child: CategoryInput = {"job": job, "category": unit_name}
        task = context.call_sub_orchestrator(wire.DSR_CATEGORY, child, f"{context.instance_id}:{unit_name}")
        pending[task] = unit_name
    context.set_custom_status(progress(document))
    while pending:
        done = yield context.task_any(list(pending))
        unit_name = pending.pop(done)
        # dsr_category itself crashed: record it, carry on with the others.
        crashed = isinstance(done.result, Exception)
        entry: CategoryEntry = failed_entry(_error_text(done.result)) if crashed else done.result
        document = status.record_category(document, unit_name, serves[unit_name], entry)
        context.set_custom_status(progress(document))
    return document


def _finish(
    context: df.DurableOrchestrationContext, document: StatusDocument, callback_file: str | None
) -> Generator[Any, Any, Any]:
    """Write the status document, then tell the caller's callback URL (if any) and record how that went."""
    context.set_custom_status(progress(document))
    written: StatusDocument = yield context.call_activity_with_retry(
        wire.WRITE_STATUS, ACTIVITY_RETRY, document
    )
    if not callback_file:
        return written
    notice: NotifyCallbackInput = {"callbackFile": callback_file, "document": written}
    outcome: CallbackOutcome
    try:
        outcome = yield context.call_activity_with_retry(wire.NOTIFY_CALLBACK, ACTIVITY_RETRY, notice)
    except Exception as exc:
        outcome = {"delivered": False, "status": None, "error": _error_text(exc)}
    notified = status.with_callback(written, outcome)
    return (yield context.call_activity_with_retry(wire.WRITE_STATUS, ACTIVITY_RETRY, notified))


@bp.orchestration_trigger(context_name="context", orchestration=wire.DSR_CATEGORY)
def dsr_category(context: df.DurableOrchestrationContext) -> Orchestration:
    payload: CategoryInput = context.get_input()
    job = payload["job"]
    category = payload["category"]
    units = plan_units(category, job)
    pending: dict[Any, int] = {}
    for index, unit in enumerate(units):
        # Units that hand back a cursor (image export pages; delete units, which stop at their time
        # budget) run in a sub-orchestration that calls them until they are done.
        paged = category == Category.IMAGES if job["operation"] == "export" else unit["projectId"] is not None
        if paged:
            child = f"{context.instance_id}:{unit['projectId']}"
            paged_input: PagedUnitInput = {"job": job, "unit": unit}
            pending[context.call_sub_orchestrator(wire.DSR_PAGED_UNIT, paged_input, child)] = index
        else:
            unit_input: RunUnitInput = {"job": job, "unit": unit}
            if unit["projectId"] is not None:  # one of several: its counts show before the others end
                unit_input = {**unit_input, "soFar": {}}
            pending[context.call_activity_with_retry(wire.RUN_UNIT, ACTIVITY_RETRY, unit_input)] = index
    # One at a time as they end, not task_all: that fails at the first unit out of retries, and the
    # others' results (a delete's receipts, for deletions that happened) would be left out.
    ended: list[tuple[int, UnitResult]] = []
    while pending:
        done = yield context.task_any(list(pending))
        index = pending.pop(done)
        crashed = isinstance(done.result, Exception)
        result = empty_result(units[index], "failed", _error_text(done.result)) if crashed else done.result
        ended = [*ended, (index, result)]
    in_plan_order = [result for _, result in sorted(ended, key=lambda item: item[0])]
    return status.category_outcome(job["operation"], category, in_plan_order)


@bp.orchestration_trigger(context_name="context", orchestration=wire.DSR_PAGED_UNIT)
def dsr_paged_unit(context: df.DurableOrchestrationContext) -> Orchestration:
    """One activity call per generation, then continue-as-new with the cursor: the history of this
    instance stays a few events long however many pages the project has."""
    payload: PagedUnitInput = context.get_input()
    job = payload["job"]
    unit = payload["unit"]
    earlier = payload.get("combined")
    unit_input: RunUnitInput = {"job": job, "unit": unit, "soFar": earlier["counts"] if earlier else {}}
    result: UnitResult
    try:
        result = yield context.call_activity_with_retry(wire.RUN_UNIT, ACTIVITY_RETRY, unit_input)
    except Exception as exc:  # out of retries: what the earlier generations did still counts
        result = empty_result(unit, "failed", _error_text(exc))
        if job["operation"] == "delete":  # what it deleted before it gave up gets a receipt
            failure: FailedUnitInput = {"job": job, "unit": unit, "error": _error_text(exc)}
            try:
                result = yield context.call_activity_with_retry(
                    wire.WRITE_FAILED_RECEIPT, ACTIVITY_RETRY, failure
                )
            except Exception as unwritten:  # a retry of the category resumes it from the journal
                unwritten_text = _error_text(unwritten)
                note = f"{result['note']}; the receipt of what it deleted was not written: {unwritten_text}"
                result = {**result, "note": note}
    combined = combine_results(payload.get("combined"), result)
    if result["state"] == "failed" or result["next"] is None:
        return {**combined, "next": None}
    following: PagedUnitInput = {"job": job, "unit": {**unit, "cursor": result["next"]}, "combined": combined}
    context.continue_as_new(following)
    return None
