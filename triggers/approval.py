"""Delivering an approver's decision to a delete waiting for one, through the Durable client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import azure.durable_functions as df

from dsr import layout, wire
from dsr.contract import instance_id_for
from dsr.errors import InvalidRequestError, RequestConflictError
from dsr.storage import ExportStore, StoredFileExistsError, StoredFileNotFoundError, create_json, get_json
from dsr.untrusted_json import is_plain_text
from dsr.wire import ApprovalDecision
from triggers.status_view import read_status

MAX_APPROVER_LENGTH = 128
MAX_COMMENT_LENGTH = 1000
MAX_PRINCIPAL_LENGTH = 256
PRINCIPAL_HEADER = "x-ms-client-principal-name"


def parse_decision(body: dict[str, Any], principal: str | None) -> ApprovalDecision:
    """An approver's decision from the body of ``POST .../approve``; refusals name the field.

    The decision is required: a delete is never approved by a field left out. ``by`` is one line of
    printable text, ``comment`` may break lines; neither may hold control or bidi characters, which
    would let a stored decision read as something else than what was sent.
    """
    by = body.get("by")
    if not isinstance(by, str) or len(by) > MAX_APPROVER_LENGTH or not by.strip() or not is_plain_text(by):
        raise InvalidRequestError(
            "by", f"is required: who approves (1-{MAX_APPROVER_LENGTH} characters of one line of text)"
        )
    decision = body.get("decision")
    if decision not in ("approve", "reject"):
        raise InvalidRequestError("decision", "is required: 'approve' or 'reject'")
    comment = body.get("comment")
    if comment is not None and (
        not isinstance(comment, str)
        or len(comment) > MAX_COMMENT_LENGTH
        or not is_plain_text(comment, lines=True)
    ):
        raise InvalidRequestError("comment", f"must be text of at most {MAX_COMMENT_LENGTH} characters")
    return {"by": by.strip(), "decision": decision, "comment": comment, "principal": principal}


def authenticated_principal(headers: Mapping[str, str], app_service_authentication: bool) -> str | None:
    """The caller App Service authentication signed in, or None when it does not front the app.

    Without it, the header is whatever the caller sent, so it is not recorded at all.
    """
    if not app_service_authentication:
        return None
    name = headers.get(PRINCIPAL_HEADER)
    if not name or len(name) > MAX_PRINCIPAL_LENGTH or not is_plain_text(name):
        return None
    return name


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
        # Another approver may have decided since the first look: name that decision if so.
        _refuse_other_decision(store, request_id, decision)
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
