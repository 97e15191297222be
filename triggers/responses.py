"""The one place where errors become HTTP responses. Bodies never carry secrets or personal data."""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.functions as func

from dsr.errors import (
    ConfigurationError,
    DsrError,
    EndpointNotAllowedError,
    InvalidRequestError,
    RequestConflictError,
    RequestNotFoundError,
)

log = logging.getLogger("dsr.http")


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers=headers or {},
        mimetype="application/json",
    )


def _error(status: int, code: str, message: str, field: str | None = None) -> func.HttpResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return json_response({"error": error}, status)


def error_response(exc: Exception) -> func.HttpResponse:
    """Map any exception to a response; unexpected ones become a generic 500 and are logged by type."""
    if isinstance(exc, InvalidRequestError):
        return _error(400, "InvalidRequest", exc.message, exc.field)
    if isinstance(exc, EndpointNotAllowedError):
        return _error(400, "EndpointNotAllowed", str(exc), "account.endpoint")
    if isinstance(exc, RequestNotFoundError):
        return _error(404, "RequestNotFound", str(exc))
    if isinstance(exc, RequestConflictError):
        return _error(409, "RequestConflict", exc.reason, "requestId")
    if isinstance(exc, ConfigurationError):
        log.error("configuration error: %s", exc)
        return _error(500, "ConfigurationError", "the service is misconfigured")
    if isinstance(exc, DsrError) and exc.transient:
        return _error(503, "Unavailable", "a dependency is temporarily unavailable; retry later")
    log.exception("unexpected error (%s)", type(exc).__name__)
    return _error(500, "InternalError", "internal error")


DOCUMENT_STATUS_CODES = {
    "succeeded": 200,
    "partially_succeeded": 500,
    "failed": 500,
    "canceled": 409,
}
"""A finished request that did not fully succeed answers with a non-2xx, so a Logic Apps step fails too."""
