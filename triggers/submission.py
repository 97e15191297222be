"""Submitting a request through the Durable client: admit the body, claim its id, start it once.

Shared by the HTTP API and the queue intake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import azure.durable_functions as df

from dsr import layout, wire
from dsr.callbacks import check_callback_url
from dsr.config import Settings
from dsr.contract import DsrRequest, instance_id_for, parse_request
from dsr.records import claim, new_run_ticket, run_started, stash_payloads
from dsr.runtime import endpoint_allow_list
from dsr.storage import ExportStore, StoredFileNotFoundError
from dsr.wire import RequestInput


@dataclass(frozen=True)
class Submission:
    request_id: str
    created: bool
    """False when the request already existed (a resubmission): nothing new was started."""


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
        store.get_bytes(layout.status(request_id))
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
    orchestration_input: RequestInput = {
        "request": stash_payloads(store, request),
        "receivedAt": claimed.record["receivedAt"],
        "approval": {"required": settings.approval_required, "timeoutHours": settings.approval_timeout_hours},
        "run": new_run_ticket(1),
    }
    try:
        await client.start_new(wire.DSR_REQUEST, instance_id_for(request_id), orchestration_input)
    except Exception:
        # Lost a race with an identical submission's start: fine if the instance exists now.
        if not await _instance_exists(client, request_id):
            raise
    return Submission(request_id, created=claimed.created)
