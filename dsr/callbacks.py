"""Telling a caller's ``callbackUrl`` that its request finished.

The callback carries no data — only ids, the final state and where the status document is — and goes
only to hosts on the callback allow-list, so a request cannot make this app call arbitrary hosts.
"""

from __future__ import annotations

from typing import TypedDict
from urllib.parse import urlsplit

import requests

from dsr.config import Settings
from dsr.customvision import EndpointAllowList
from dsr.errors import EndpointNotAllowedError, InvalidRequestError, TransientError
from dsr.wire import StatusDocument

CALLBACK_TIMEOUT_SECONDS = 10.0


class CallbackFailedError(TransientError):
    """The callback endpoint could not be reached or answered 5xx/429; Durable retries it."""

    def __init__(self, status: int | None) -> None:
        super().__init__(f"callback failed ({'no response' if status is None else f'HTTP {status}'})")
        self.status = status


class CallbackOutcome(TypedDict):
    delivered: bool
    status: int | None


def check_callback_url(url: str, settings: Settings) -> None:
    """Refuse a callback URL whose origin is not allow-listed (400 naming ``callbackUrl``)."""
    parts = urlsplit(url)
    allow = EndpointAllowList(
        suffixes=settings.callback_allowed_suffixes, extra_origins=settings.callback_allowed_origins
    )
    try:
        if not settings.callback_allowed_suffixes and not settings.callback_allowed_origins:
            raise EndpointNotAllowedError(parts.hostname or "")
        allow.check(f"{parts.scheme}://{parts.netloc}")
    except EndpointNotAllowedError as exc:
        raise InvalidRequestError("callbackUrl", "host is not on the callback allow-list") from exc


def notify(url: str, document: StatusDocument, settings: Settings) -> CallbackOutcome:
    """POST the outcome of a request to its callback URL; raise on failures worth retrying."""
    check_callback_url(url, settings)
    payload = {
        "requestId": document["requestId"],
        "operation": document["operation"],
        "state": document["state"],
        "completedAt": document["completedAt"],
        "statusFile": document.get("statusFile"),
    }
    try:
        response = requests.post(url, json=payload, timeout=CALLBACK_TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as exc:
        raise CallbackFailedError(None) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise CallbackFailedError(response.status_code)
    return {"delivered": 200 <= response.status_code < 300, "status": response.status_code}
