"""HTTP API v1: submit a request, poll its status (async request-reply), approve a pending delete,
cancel a running request, retry a failed one. Described for callers in ``triggers/openapi.json``."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import azure.durable_functions as df
import azure.functions as func

from dsr.cancellation import MAX_CANCEL_REASON_LENGTH, MAX_CANCELED_BY_LENGTH
from dsr.config import get_settings
from dsr.errors import InvalidRequestError
from dsr.progress import with_progress_so_far
from dsr.request_index import MAX_PAGE_SIZE
from dsr.runtime import get_runtime
from dsr.status import REQUEST_STATES
from dsr.untrusted_json import is_plain_text, parse_untrusted
from triggers.approval import approve, authenticated_principal, parse_decision
from triggers.request_control import cancel, retry
from triggers.request_list import NOT_OURS, list_requests
from triggers.responses import DOCUMENT_STATUS_CODES, error_response, json_response
from triggers.settlement import read_settled_status
from triggers.submission import admit, submit

bp = df.Blueprint()
log = logging.getLogger("dsr.http")

RETRY_AFTER_SECONDS = 10
DEFAULT_PAGE_SIZE = 50
KEY_PARAMETER = "code"
MAX_TOKEN_LENGTH = 2048
# ASCII only: str.isdigit() also takes superscripts and other scripts' digits.
WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")


def _json_body(req: func.HttpRequest) -> Any:
    _refuse_chunked(req)
    return parse_untrusted(req.get_body())


def _refuse_chunked(req: func.HttpRequest) -> None:
    """The Functions host passes a chunked body on empty (only a Content-Length body reaches the
    worker): refused, rather than read as no body at all (a cancel would lose who and why)."""
    chunked = "chunked" in req.headers.get("transfer-encoding", "").lower()
    if chunked and not req.get_body():
        raise InvalidRequestError("body", "must be sent with a Content-Length, not chunked")


def _status_url(req: func.HttpRequest, request_id: str) -> str:
    """The status URL, keeping the ``code`` the caller authenticated with: pollers send no header."""
    parts = urlsplit(req.url)
    url = f"{parts.scheme}://{parts.netloc}/api/requests/{request_id}"
    code = _function_key(req)
    return f"{url}?{urlencode({'code': code})}" if code else url


def _function_key(req: func.HttpRequest) -> str | None:
    """The ``code`` query parameter in whatever case it was sent: the host reads it case-insensitively."""
    return next((value for name, value in req.params.items() if name.lower() == KEY_PARAMETER), None)


def _json_object(req: func.HttpRequest, allowed: set[str], *, optional: bool = False) -> dict[str, Any]:
    if optional and not req.get_body().strip():
        _refuse_chunked(req)  # an empty body may be a chunked one the host passed on empty
        return {}
    body = _json_body(req)
    if not isinstance(body, dict):
        raise InvalidRequestError("body", "must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequestError(unknown[0], "unknown field")
    return body


def _optional_text(body: dict[str, Any], field: str, limit: int, *, lines: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or not is_plain_text(value, lines=lines):
        raise InvalidRequestError(field, f"must be text of at most {limit} characters")
    return value.strip() or None


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
        runtime = get_runtime()
        view = await read_settled_status(client, request_id, runtime.store, runtime.records)
        document = view.document
        if view.running:  # counts of the categories still running, as far as their units have got
            document = with_progress_so_far(runtime.store, document)
    except Exception as exc:
        return error_response(exc)
    if view.running:
        location = _status_url(req, request_id)
        return json_response(document, 202, {"Location": location, "Retry-After": str(RETRY_AFTER_SECONDS)})
    return json_response(document, DOCUMENT_STATUS_CODES.get(document["state"], 500))


@bp.route(route="requests/{requestId}/approve", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def approve_request(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST /api/requests/{id}/approve``: body ``{"by", "decision": approve|reject, "comment"?}``."""
    request_id = req.route_params.get("requestId", "")
    try:
        body = _json_object(req, {"by", "decision", "comment"})
        principal = authenticated_principal(req.headers, get_settings().app_service_authentication)
        event = parse_decision(body, principal)
        await approve(client, request_id, event, get_runtime().records)
    except Exception as exc:
        return error_response(exc)
    log.info("request %s: approval decision delivered", request_id)
    return _accepted(req, request_id, {"requestId": request_id, "decision": event["decision"]})


@bp.route(route="requests/{requestId}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def cancel_request(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST /api/requests/{id}/cancel``: body ``{"by"?, "reason"?}`` (optional); 200 + the document."""
    request_id = req.route_params.get("requestId", "")
    try:
        body = _json_object(req, {"by", "reason"}, optional=True)
        by = _optional_text(body, "by", MAX_CANCELED_BY_LENGTH)
        reason = _optional_text(body, "reason", MAX_CANCEL_REASON_LENGTH, lines=True)
        runtime = get_runtime()
        view = await cancel(client, request_id, by, reason, runtime.store, runtime.records)
    except Exception as exc:
        return error_response(exc)
    log.info("request %s: canceled", request_id)
    if view.running:  # terminated, but not yet stopped: poll for the final document
        location = _status_url(req, request_id)
        headers = {"Location": location, "Retry-After": str(RETRY_AFTER_SECONDS)}
        return json_response(view.document, 202, headers)
    return json_response(view.document, 200)


@bp.route(route="requests/{requestId}/retry", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def retry_request(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST /api/requests/{id}/retry``: run the failed (or unverified) categories again; 202 + Location.

    No body: a retry runs every failed category, so a body asking for less (``{"categories": [...]}``)
    is refused (400 naming its first field) rather than ignored. An empty body, or ``{}``, is none.
    """
    request_id = req.route_params.get("requestId", "")
    try:
        _json_object(req, set(), optional=True)
        attempt = await retry(client, request_id, get_runtime().records)
    except Exception as exc:
        return error_response(exc)
    log.info("request %s: attempt %d started", request_id, attempt["attempt"])
    return _accepted(
        req,
        request_id,
        {"requestId": request_id, "attempt": attempt["attempt"], "categories": attempt["categories"]},
    )


def _list_query(req: func.HttpRequest) -> dict[str, Any]:
    named = {name for name in req.params if name.lower() != KEY_PARAMETER}
    unknown = sorted(named - {"state", "operation", "pageSize", "continuationToken"})
    if unknown:
        raise InvalidRequestError(unknown[0], "unknown query parameter")
    state = req.params.get("state") or None
    if state is not None and state not in REQUEST_STATES:
        raise InvalidRequestError("state", f"must be one of {', '.join(REQUEST_STATES)}")
    operation = req.params.get("operation") or None
    if operation is not None and operation not in ("export", "delete"):
        raise InvalidRequestError("operation", "must be 'export' or 'delete'")
    size = req.params.get("pageSize") or str(DEFAULT_PAGE_SIZE)
    if not WHOLE_NUMBER.fullmatch(size) or not 1 <= int(size) <= MAX_PAGE_SIZE:
        raise InvalidRequestError("pageSize", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    token = req.params.get("continuationToken") or None
    if token is not None and (len(token) > MAX_TOKEN_LENGTH or not token.isprintable()):
        raise InvalidRequestError("continuationToken", NOT_OURS)
    return {"state": state, "operation": operation, "page_size": int(size), "token": token}


def _next_link(req: func.HttpRequest, token: str | None) -> str | None:
    if token is None:
        return None
    parts = urlsplit(req.url)
    query = {k: v for k, v in req.params.items() if k != "continuationToken"}
    return f"{parts.scheme}://{parts.netloc}/api/requests?{urlencode({**query, 'continuationToken': token})}"


@bp.route(route="requests", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def list_request_page(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """``GET /api/requests?state=&operation=&pageSize=``: one page of requests and ``nextLink``."""
    try:
        rows, token = await list_requests(client, get_runtime().records, **_list_query(req))
    except Exception as exc:
        return error_response(exc)
    for row in rows:
        row["statusQueryUrl"] = _status_url(req, row["requestId"])
    return json_response({"requests": rows, "nextLink": _next_link(req, token)}, 200)
