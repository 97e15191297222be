"""The activities of a data-subject request.

Error policy: *transient* errors (throttling, 5xx, storage hiccups) are raised, so the orchestrator's
retry policy retries them; *permanent* errors (wrong key, missing project, endpoint not allowed) are
returned as a failed result, because retrying cannot help and the status document must say why.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.durable_functions as df

from dsr import layout, wire
from dsr.accounts import resolve_account as resolve
from dsr.callbacks import notify
from dsr.chain import seal_request_receipts
from dsr.contract import DsrRequest
from dsr.erasure import run_delete_unit, write_failed_receipt
from dsr.errors import PermanentError
from dsr.export import run_export_unit
from dsr.progress import record_progress
from dsr.records import claim_run as claim_run_ticket
from dsr.records import read_callback
from dsr.report import write_reports
from dsr.request_index import mark
from dsr.retention import retention_terms
from dsr.runtime import get_runtime
from dsr.status import TERMINAL_STATES, with_status_file
from dsr.storage import StoredFileNotFoundError, get_json, put_json
from dsr.units import UnitResult, empty_result
from dsr.wire import (
    CallbackOutcome,
    ClaimRunInput,
    ClaimRunResult,
    FailedUnitInput,
    NotifyCallbackInput,
    Resolution,
    RunUnitInput,
    StatusDocument,
)

bp = df.Blueprint()
log = logging.getLogger("dsr.activities")


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


@bp.activity_trigger(input_name="payload", activity=wire.CLAIM_RUN)
def claim_run(payload: ClaimRunInput) -> ClaimRunResult:
    """Claim this attempt of the request for this start; a duplicate start gets the recorded document.

    The duplicate replaced a finished instance, so the document it hands back becomes that instance's
    output again, as it was before. A retry marks the record running before it starts; a duplicate one
    that started after the first run finished puts back the state the recorded document ends with.
    """
    runtime = get_runtime()
    request_id = payload["requestId"]
    if claim_run_ticket(runtime.records, request_id, payload["run"]):
        return {"owner": True, "document": None}
    log.warning(
        "request %s: a duplicate start of attempt %s ran nothing", request_id, payload["run"]["attempt"]
    )
    document: StatusDocument | None
    try:
        document = get_json(runtime.records, layout.status(request_id))
    except StoredFileNotFoundError:
        document = None
    if document is not None and document["state"] in TERMINAL_STATES:
        mark(runtime.records, request_id, document["operation"], document["state"], document["receivedAt"])
    return {"owner": False, "document": document}


@bp.activity_trigger(input_name="request", activity=wire.RESOLVE_ACCOUNT)
def resolve_account(request: DsrRequest) -> Resolution:
    """Allow-list the endpoint, pin the key's Key Vault version and list the projects in scope."""
    try:
        resolution = resolve(request, get_runtime())
    except PermanentError as exc:
        log.warning("request %s: account resolution failed: %s", request["requestId"], type(exc).__name__)
        return {"kind": "failed", "error": _describe(exc)}
    log.info("request %s: %d project(s) in scope", request["requestId"], len(resolution["projects"]))
    return {"kind": "resolved", **resolution}


@bp.activity_trigger(input_name="payload", activity=wire.RUN_UNIT)
def run_unit(payload: RunUnitInput) -> UnitResult:
    """Export or delete one unit (a category, for one project where the category is large)."""
    job = payload["job"]
    unit = payload["unit"]
    runner = run_export_unit if job["operation"] == "export" else run_delete_unit
    runtime = get_runtime()
    try:
        result: UnitResult = runner(job, unit, runtime)
    except PermanentError as exc:
        log.warning("request %s: %s failed: %s", job["requestId"], unit["category"], type(exc).__name__)
        result = empty_result(unit, "failed", _describe(exc))
    if "soFar" in payload:
        record_progress(runtime.store, job, payload["soFar"], result)
    log.info(
        "request %s: %s %s (%s)", job["requestId"], unit["category"], result["state"], result["counts"] or "-"
    )
    return result


@bp.activity_trigger(input_name="payload", activity=wire.WRITE_FAILED_RECEIPT)
def write_unit_failure(payload: FailedUnitInput) -> UnitResult:
    """A delete unit out of retries: its failed result, with a receipt of what its journal shows."""
    job, unit = payload["job"], payload["unit"]
    result = write_failed_receipt(job, unit, get_runtime(), payload["error"])
    log.warning(
        "request %s: %s gave up, %d receipt(s)", job["requestId"], unit["category"], len(result["files"])
    )
    return result


@bp.activity_trigger(input_name="document", activity=wire.WRITE_STATUS)
def write_status(document: StatusDocument) -> StatusDocument:
    """Seal a delete's receipts into the records container's hash chain, write the pages for people
    (export: index, paged views, COCO, manifest, optional zip; delete: the erasure certificate), and
    write the status document.

    Runs again after a callback (and on retries): every step is idempotent.
    """
    runtime = get_runtime()
    request_id = document["requestId"]
    document = seal_request_receipts(document, runtime.records, runtime.store)
    document = write_reports(runtime, document, datetime.now(UTC))
    retention = retention_terms(document["receivedAt"], runtime.settings)
    document = with_status_file(document, layout.status(request_id), retention)
    put_json(runtime.records, layout.status(request_id), document)
    # After the document: a listed outcome always has its status document to show.
    mark(runtime.records, request_id, document["operation"], document["state"], document["receivedAt"])
    log.info("request %s: %s", request_id, document["state"])
    return document


@bp.activity_trigger(input_name="payload", activity=wire.NOTIFY_CALLBACK)
def notify_callback(payload: NotifyCallbackInput) -> CallbackOutcome:
    """POST the request's outcome to its callback URL (allow-listed hosts only)."""
    document = payload["document"]
    runtime = get_runtime()
    outcome: CallbackOutcome
    try:
        url = read_callback(runtime.store, document["requestId"], payload["callbackFile"])
        sent = notify(url, document, runtime.settings)
        outcome = {"delivered": sent["delivered"], "status": sent["status"]}
    except PermanentError as exc:
        outcome = {"delivered": False, "status": None, "error": _describe(exc)}
    log.info("request %s: callback delivered=%s", document["requestId"], outcome["delivered"])
    return outcome
