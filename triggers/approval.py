"""Delivering an approver's decision to a delete waiting for one, through the Durable client."""

from __future__ import annotations

import azure.durable_functions as df

from dsr import layout, wire
from dsr.contract import instance_id_for
from dsr.errors import RequestConflictError
from dsr.storage import ExportStore, StoredFileExistsError, StoredFileNotFoundError, create_json, get_json
from dsr.wire import ApprovalDecision
from triggers.status_view import read_status


async def approve(
    client: df.DurableOrchestrationClient, request_id: str, decision: ApprovalDecision, store: ExportStore
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
        create_json(store, layout.approval(request_id), decision)
    except StoredFileExistsError:
        _refuse_other_decision(store, request_id, decision)
    await client.raise_event(instance_id_for(request_id), wire.APPROVAL_EVENT, decision)


def _refuse_other_decision(store: ExportStore, request_id: str, decision: ApprovalDecision) -> None:
    try:
        recorded = get_json(store, layout.approval(request_id))
    except StoredFileNotFoundError:
        return
    if recorded != decision:
        raise RequestConflictError(
            request_id, f"a decision was already recorded: {recorded['decision']} by {recorded['by']}"
        )
