"""Submitting a request and reading its status through the Durable client (shared by HTTP and queue)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from dsr.callbacks import check_callback_url
from dsr.cancellation import canceled_document, cancellation_from, receipts_prefix
from dsr.config import Settings
from dsr.contract import DsrRequest, instance_id_for, parse_request
from dsr.errors import RequestConflictError, RequestNotFoundError
from dsr.records import claim, new_run_ticket, run_started, stash_payloads
from dsr.runtime import endpoint_allow_list
from dsr.status import TERMINAL_STATES, initial_document, parse_time, status_path
from dsr.storage import ExportStore, StoredFileExistsError, StoredFileNotFoundError, create_json, get_json
from orchestrators import names

RUNNING_STATUSES = frozenset(
    {
        df.OrchestrationRuntimeStatus.Pending,
        df.OrchestrationRuntimeStatus.Running,
        df.OrchestrationRuntimeStatus.ContinuedAsNew,
    }
)


@dataclass(frozen=True)
class Submission:
    request_id: str
    created: bool
    """False when the request already existed (a resubmission): nothing new was started."""


def _stored_input(status: df.DurableOrchestrationStatus) -> dict[str, Any]:
    raw = status.input_
    # The Python client double-encodes start input, so the stored token may be a JSON string.
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict) or "request" not in value:
        raise RequestConflictError(str(status.instance_id), "the instance is not a data-subject request")
    return value


def admit(body: object, settings: Settings) -> DsrRequest:
    """Validate a submitted body, refusing endpoints and callback hosts off their allow-lists.

    Done at intake so a bad endpoint is a 400 (or a rejected queue item) rather than a failed request.
    """
    request = parse_request(body)
    endpoint_allow_list(settings).check(request["account"]["endpoint"])
    if request["callbackUrl"]:
        check_callback_url(request["callbackUrl"], settings)
    return request


async def _instance_exists(client: df.DurableOrchestrationClient, request_id: str) -> bool:
    status = await client.get_status(instance_id_for(request_id))
    return bool(status and status.runtime_status is not None)


def _finished(store: ExportStore, request_id: str) -> bool:
    """Whether the request wrote its final status document (its Durable history may be purged since)."""
    try:
        store.get_bytes(status_path(request_id))
    except StoredFileNotFoundError:
        return False
    return True


async def submit(
    client: df.DurableOrchestrationClient,
    request: DsrRequest,
    settings: Settings,
    store: ExportStore,
    records: ExportStore,
) -> Submission:
    """Claim the request id for this body and start its orchestration; never run a request twice.

    The request record and the status document are kept in ``records`` (they must outlive the
    retention period of the export container); the payloads go to ``store`` and expire with it.

    The claim (:func:`dsr.records.claim`) decides which body owns the id; only that body's submissions
    get further. Whichever of them finds no instance, no claimed run and no final status document
    starts the orchestration, so a winner that crashed (or failed to reach Durable) between its claim
    and the start is recovered by the caller's retry. Two identical submissions racing to start it:
    starting an id that is pending or running fails, and that failure is fine; a start that comes
    after the first run finished replaces the finished instance, and its run ticket tells it to run
    nothing (:func:`dsr.records.claim_run`).
    """
    claimed = claim(records, request, datetime.now(UTC))
    request_id = request["requestId"]
    if (
        await _instance_exists(client, request_id)
        or run_started(records, request_id)
        or _finished(records, request_id)
    ):
        return Submission(request_id, created=claimed.created)
    orchestration_input = {
        "request": stash_payloads(store, request),
        "receivedAt": claimed.record["receivedAt"],
        "approval": {"required": settings.approval_required, "timeoutHours": settings.approval_timeout_hours},
        "run": new_run_ticket(1),
    }
    try:
        await client.start_new(names.DSR_REQUEST, instance_id_for(request_id), orchestration_input)
    except Exception:
        # Lost a race with an identical submission's start: fine if the instance exists now.
        if not await _instance_exists(client, request_id):
            raise
    return Submission(request_id, created=claimed.created)


@dataclass(frozen=True)
class StatusView:
    document: dict[str, Any]
    running: bool


async def read_status(
    client: df.DurableOrchestrationClient, request_id: str, store: ExportStore
) -> StatusView:
    """The status document of a request, however far it has got.

    After operators purge a finished instance's Durable history, the status document written to
    Blob Storage still answers.
    """
    instance_id = instance_id_for(request_id)
    status = await client.get_status(instance_id, show_input=True)
    if not status or status.runtime_status is None:
        try:
            return StatusView(get_json(store, status_path(request_id)), running=False)
        except StoredFileNotFoundError:
            raise RequestNotFoundError(request_id) from None
    stored = _stored_input(status)
    received = parse_time(stored["receivedAt"])
    runtime_status = status.runtime_status
    if runtime_status == df.OrchestrationRuntimeStatus.Completed and isinstance(status.output, dict):
        return StatusView(status.output, running=False)
    document = initial_document(stored["request"], received, "pending")
    progress = status.custom_status if isinstance(status.custom_status, dict) else None
    if progress:
        document["state"] = progress["state"]
        document["approval"] = progress.get("approval")
        document["attempts"] = progress.get("attempts", [])
        document["error"] = progress.get("error")
        for name, entry in progress["categories"].items():
            document["categories"].setdefault(name, {}).update(entry)
    if runtime_status in RUNNING_STATUSES:
        if document["state"] in TERMINAL_STATES:  # finished, status file being written
            document["state"] = "running"
        return StatusView(document, running=True)
    if runtime_status == df.OrchestrationRuntimeStatus.Terminated:
        return StatusView(_terminated(document, status.output, store), running=False)
    document["state"] = "failed"
    document["error"] = "the request failed unexpectedly; operators can find details in the logs"
    return StatusView(document, running=False)


def _terminated(document: dict[str, Any], output: Any, store: ExportStore) -> dict[str, Any]:
    """A terminated request (canceled): the document its cancel wrote, or else its progress so far,
    who canceled it and the receipts found beside the status document."""
    try:
        written: dict[str, Any] = get_json(store, status_path(document["requestId"]))
    except StoredFileNotFoundError:
        written = {}
    if written.get("state") == "canceled":
        return written
    receipts = store.list_files(receipts_prefix(document["requestId"]))
    return canceled_document(document, cancellation_from(output), receipts)


def approval_path(request_id: str) -> str:
    return f"{request_id}/request/approval.json"


async def approve(
    client: df.DurableOrchestrationClient, request_id: str, decision: dict[str, Any], store: ExportStore
) -> None:
    """Deliver an approver's decision to a delete waiting for one; the first decision is final.

    The decision is recorded with one conditional write before the event is raised, so of two
    concurrent decisions exactly one reaches the orchestration; the other gets a conflict naming the
    recorded one. Repeating the recorded decision re-delivers it (a lost response, a client retry).
    """
    _refuse_other_decision(store, request_id, decision)
    view = await read_status(client, request_id, store)
    if not view.running or view.document["state"] != "awaiting_approval":
        raise RequestConflictError(request_id, "the request is not awaiting approval")
    try:
        create_json(store, approval_path(request_id), decision)
    except StoredFileExistsError:
        _refuse_other_decision(store, request_id, decision)
    await client.raise_event(instance_id_for(request_id), names.APPROVAL_EVENT, decision)


def _refuse_other_decision(store: ExportStore, request_id: str, decision: dict[str, Any]) -> None:
    try:
        recorded = get_json(store, approval_path(request_id))
    except StoredFileNotFoundError:
        return
    if recorded != decision:
        raise RequestConflictError(
            request_id, f"a decision was already recorded: {recorded['decision']} by {recorded['by']}"
        )
