"""HTTP API v1: submit a request, poll its status (async request-reply), approve a pending delete."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func

from dsr.config import get_settings
from dsr.errors import InvalidRequestError
from dsr.runtime import get_runtime
from dsr.untrusted_json import parse_untrusted
from triggers.intake import admit, approve, read_status, submit
from triggers.responses import DOCUMENT_STATUS_CODES, error_response, json_response

bp = df.Blueprint()
log = logging.getLogger("dsr.http")

RETRY_AFTER_SECONDS = 10
MAX_APPROVER_LENGTH = 128
MAX_COMMENT_LENGTH = 1000


def _json_body(req: func.HttpRequest) -> Any:
    return parse_untrusted(req.get_body())


def _status_url(req: func.HttpRequest, request_id: str) -> str:
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}/api/requests/{request_id}"


def _accepted(req: func.HttpRequest, request_id: str, body: dict[str, Any]) -> func.HttpResponse:
    location = _status_url(req, request_id)
    headers = {"Location": location, "Retry-After": str(RETRY_AFTER_SECONDS)}
    return json_response({**body, "statusQueryUrl": location}, 202, headers)


@bp.route(route="requests", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def submit_request(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST /api/requests``: 202 + Location + Retry-After; resubmitting the same request is harmless."""
    try:
        settings = get_settings()
        request = admit(_json_body(req), settings)
        runtime = get_runtime()
        submission = await submit(client, request, settings, runtime.store, runtime.records)
    except Exception as exc:
        return error_response(exc)
    log.info("request %s %s", submission.request_id, "accepted" if submission.created else "resubmitted")
    return _accepted(
        req,
        submission.request_id,
        {
            "requestId": submission.request_id,
            "operation": request["operation"],
            "created": submission.created,
        },
    )


@bp.route(route="requests/{requestId}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_request(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``GET /api/requests/{id}``: 202 while running, 200 when succeeded, non-2xx when it did not."""
    request_id = req.route_params.get("requestId", "")
    try:
        view = await read_status(client, request_id, get_runtime().records)
    except Exception as exc:
        return error_response(exc)
    if view.running:
        location = _status_url(req, request_id)
        return json_response(
            view.document, 202, {"Location": location, "Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    return json_response(view.document, DOCUMENT_STATUS_CODES.get(view.document["state"], 500))


@bp.route(route="requests/{requestId}/approve", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def approve_request(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST /api/requests/{id}/approve``: body ``{"by", "decision"?: approve|reject, "comment"?}``."""
    request_id = req.route_params.get("requestId", "")
    try:
        body = _json_body(req)
        if not isinstance(body, dict):
            raise InvalidRequestError("body", "must be a JSON object")
        unknown = sorted(set(body) - {"by", "decision", "comment"})
        if unknown:
            raise InvalidRequestError(unknown[0], "unknown field")
        by = body.get("by")
        if not isinstance(by, str) or not 1 <= len(by.strip()) <= MAX_APPROVER_LENGTH:
            raise InvalidRequestError("by", f"is required: who approves (1-{MAX_APPROVER_LENGTH} characters)")
        decision = body.get("decision", "approve")
        if decision not in ("approve", "reject"):
            raise InvalidRequestError("decision", "must be 'approve' or 'reject'")
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_LENGTH):
            raise InvalidRequestError(
                "comment", f"must be a string of at most {MAX_COMMENT_LENGTH} characters"
            )
        event = {
            "by": by.strip(),
            "decision": decision,
            "comment": comment,
            # Set by App Service authentication when it fronts the app: the authenticated caller.
            "principal": req.headers.get("x-ms-client-principal-name"),
        }
        await approve(client, request_id, event, get_runtime().records)
    except Exception as exc:
        return error_response(exc)
    log.info("request %s: approval decision delivered", request_id)
    return _accepted(req, request_id, {"requestId": request_id, "decision": decision})
