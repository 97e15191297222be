"""Operator control of a request through the Durable client: cancel it, retry its failed or unverified
categories."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import azure.durable_functions as df

from dsr import layout, wire
from dsr.attempts import retry_input
from dsr.cancellation import termination_reason
from dsr.contract import instance_id_for
from dsr.erasure import unfinished_plans
from dsr.errors import RequestConflictError
from dsr.record_store import RecordStore
from dsr.records import new_run_ticket
from dsr.request_index import IN_PROGRESS, mark
from dsr.status import current_attempt
from dsr.storage import ExportStore, put_json
from dsr.times import format_time
from dsr.wire import RetryBlock
from triggers.history import MAX_LIST_ROUNDS
from triggers.settlement import settle_cancel
from triggers.status_view import RUNNING_STATUSES, StatusView, read_status, stored_input

CANCEL_WAIT_SECONDS = 20.0
"""How long a cancel waits for the orchestration to stop before it answers."""
CANCEL_POLL_SECONDS = 0.25
UNIT_STOP_WAIT_SECONDS = 15.0
"""How long a cancel then waits for running delete units to finish their step and write receipts."""


async def _terminate_children(client: df.DurableOrchestrationClient, instance_id: str, reason: str) -> None:
    """Terminate the request's running sub-orchestrations: Durable does not pass termination down.

    The list comes a page (100) at a time and the client reads only the first, so it is asked for
    again until it shows no child not terminated yet (a terminated one may still list as running).
    """
    terminated: set[str] = set()
    for _ in range(MAX_LIST_ROUNDS):
        children = await client.get_status_by(
            runtime_status=list(RUNNING_STATUSES), instance_id_prefix=f"{instance_id}:"
        )
        fresh = [str(child.instance_id) for child in children if str(child.instance_id) not in terminated]
        if not fresh:
            return
        for child_id in fresh:
            await client.terminate(child_id, reason)
            terminated.add(child_id)


async def _stopped(client: df.DurableOrchestrationClient, instance_id: str) -> df.DurableOrchestrationStatus:
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while True:
        status = await client.get_status(instance_id)
        if status.runtime_status not in RUNNING_STATUSES or time.monotonic() >= deadline:
            return status
        await asyncio.sleep(CANCEL_POLL_SECONDS)


async def _units_stopped(store: ExportStore, request_id: str) -> None:
    """Give the delete units still running when the cancel came time to finish their step and write
    their receipts, so the canceled document lists what they deleted (bounded: a unit paused at its
    time budget, or cut short by a crash, will not write one; the cancel then writes it from the
    unit's journal)."""
    deadline = time.monotonic() + UNIT_STOP_WAIT_SECONDS
    while unfinished_plans(store, request_id) and time.monotonic() < deadline:
        await asyncio.sleep(CANCEL_POLL_SECONDS)


async def cancel(
    client: df.DurableOrchestrationClient,
    request_id: str,
    by: str | None,
    reason: str | None,
    store: ExportStore,
    records: RecordStore,
) -> StatusView:
    """Terminate a running request and keep its canceled status document with its sealed receipts.

    Answers the document once the orchestration has stopped (``running`` stays True if it has not
    within :data:`CANCEL_WAIT_SECONDS`; it then stops shortly after). A request that finished before
    the termination reached it is a conflict: it was not canceled. The receipts its delete units wrote
    to ``store`` so far are sealed into ``records``, as a finished delete's are.
    """
    view = await read_status(client, request_id, records)
    if not view.running:
        raise RequestConflictError(request_id, f"the request has already ended ({view.document['state']})")
    instance_id = instance_id_for(request_id)
    why = termination_reason(format_time(datetime.now(UTC)), by, reason)
    await client.terminate(instance_id, why)
    await _terminate_children(client, instance_id, why)
    status = await _stopped(client, instance_id)
    stopping = status.runtime_status in RUNNING_STATUSES
    if stopping or status.runtime_status == df.OrchestrationRuntimeStatus.Terminated:
        # Only once the termination took: a request that ended first may be retried, and its units
        # must not find a stale cancel. Durable cannot stop a running activity; the marker does.
        marker = {"at": format_time(datetime.now(UTC)), "attempt": current_attempt(view.document)}
        put_json(store, layout.cancel_marker(request_id), marker)
    if stopping:
        return await read_status(client, request_id, records)
    view = await read_status(client, request_id, records)
    if status.runtime_status != df.OrchestrationRuntimeStatus.Terminated:
        ended = view.document["state"]
        raise RequestConflictError(request_id, f"the request ended ({ended}) before the cancel reached it")
    await _units_stopped(store, request_id)
    return StatusView(settle_cancel(view.document, store, records), running=False)


async def retry(client: df.DurableOrchestrationClient, request_id: str, records: RecordStore) -> RetryBlock:
    """Start the next attempt of a finished request: its failed or unverified categories, same request id.

    Returns the new attempt's ``retry`` block (attempt number, categories).
    """
    view = await read_status(client, request_id, records)
    if view.running:
        raise RequestConflictError(request_id, "the request is still running")
    instance_id = instance_id_for(request_id)
    status = await client.get_status(instance_id, show_input=True)
    if not status or status.runtime_status is None:  # only the status document is left
        raise RequestConflictError(
            request_id, "its run history was purged; submit a new request for the failed categories"
        )
    attempt = retry_input(stored_input(status), view.document, format_time(datetime.now(UTC)))
    attempt["run"] = new_run_ticket(attempt["retry"]["attempt"])
    document = view.document
    mark(records, request_id, document["operation"], IN_PROGRESS, document["receivedAt"])
    # Durable replaces a finished instance that is started again under the same id.
    try:
        await client.start_new(wire.DSR_REQUEST, instance_id, attempt)
    except Exception as exc:
        raise RequestConflictError(request_id, "a retry of this request is already running") from exc
    return attempt["retry"]
