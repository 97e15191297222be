"""Reading a request's status document through the Durable client, however far the request has got."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import azure.durable_functions as df

from dsr import layout
from dsr.cancellation import canceled_document, cancellation_from
from dsr.contract import instance_id_for
from dsr.errors import RequestConflictError, RequestNotFoundError
from dsr.status import from_durable, progress, start_attempt
from dsr.storage import ExportStore, StoredFileNotFoundError, get_json
from dsr.wire import RequestInput, RunTicket, StatusDocument

RUNNING_STATUSES = frozenset(
    {
        df.OrchestrationRuntimeStatus.Pending,
        df.OrchestrationRuntimeStatus.Running,
        df.OrchestrationRuntimeStatus.ContinuedAsNew,
    }
)


def stored_input(status: df.DurableOrchestrationStatus) -> RequestInput:
    """The orchestration input of a request's instance; a conflict if the instance is not a request."""
    raw = status.input_
    # The Python client double-encodes start input, so the stored token may be a JSON string.
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict) or "request" not in value:
        raise RequestConflictError(str(status.instance_id), "the instance is not a data-subject request")
    return cast(RequestInput, value)  # what dsr_request was started with: a submission or a retry


@dataclass(frozen=True)
class StatusView:
    document: StatusDocument
    running: bool
    unsettled_cancel: bool = False
    """Terminated, but the canceled document with its receipts is not kept yet: the instance stopped
    after its cancel had answered (:func:`triggers.settlement.settle_cancel` keeps it)."""


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
            return StatusView(get_json(store, layout.status(request_id)), running=False)
        except StoredFileNotFoundError:
            raise RequestNotFoundError(request_id) from None
    stored = stored_input(status)
    runtime_status = status.runtime_status
    if runtime_status == df.OrchestrationRuntimeStatus.Completed and isinstance(status.output, dict):
        return StatusView(cast(StatusDocument, status.output), running=False)  # dsr_request's result
    if runtime_status in RUNNING_STATUSES:
        recorded = _turned_away(stored, status.custom_status, store)
        if recorded is not None:
            return StatusView(recorded, running=False)
        return StatusView(from_durable(stored, status.custom_status, "running"), running=True)
    if runtime_status == df.OrchestrationRuntimeStatus.Terminated:
        so_far = from_durable(stored, status.custom_status, "terminated")
        document, kept = _terminated(so_far, status.output, store)
        return StatusView(document, running=False, unsettled_cancel=not kept)
    return StatusView(from_durable(stored, status.custom_status, "failed"), running=False)


def _turned_away(stored: RequestInput, custom_status: object, store: ExportStore) -> StatusDocument | None:
    """The recorded document, if this running instance is a duplicate start its claim will turn away.

    A second identical submission whose start lands after the first run finished replaces the
    finished instance (:func:`triggers.submission.submit`), and Durable reports it Running until its
    claim finds another run's ticket (:func:`dsr.records.claim_run`) and it returns the recorded
    document. The request is finished all the same: shown as running, it could be canceled, and the
    cancel would overwrite the finished document. Only an instance that has not got past its start can
    be such a duplicate, so later polls of a running request read nothing more.
    """
    run = stored.get("run")
    if run is None or custom_status not in (None, progress(start_attempt(stored))):
        return None
    try:
        ticket: RunTicket = get_json(store, layout.run_ticket(stored["request"]["requestId"], run["attempt"]))
        if ticket["token"] == run["token"]:
            return None
        recorded: StatusDocument = get_json(store, layout.status(stored["request"]["requestId"]))
    except StoredFileNotFoundError:  # not claimed yet, or a run that never wrote its document
        return None
    return recorded


def _terminated(document: StatusDocument, output: Any, store: ExportStore) -> tuple[StatusDocument, bool]:
    """A terminated request (canceled): the document its cancel kept, and True; or else its progress
    so far, who canceled it and the receipts sealed beside the status document, and False."""
    written: StatusDocument | None
    try:
        written = get_json(store, layout.status(document["requestId"]))
    except StoredFileNotFoundError:
        written = None
    # A canceled request is not retried, so a canceled document is this attempt's; any other one
    # (an earlier attempt's) is not.
    if written is not None and written["state"] == "canceled":
        return written, True
    receipts = store.list_files(layout.receipts_prefix(document["requestId"]))
    return canceled_document(document, cancellation_from(output), receipts), False
