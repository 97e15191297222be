"""Queue ``dsr-requests`` (app setting ``DSR_REQUEST_QUEUE``): bulk submission.

One request per message, or ``{"requests": [...]}``.

A message that fails validation (including one too large, too deeply nested or not JSON at all) is
recorded in the export container under ``intake/rejected/`` with the reason, and then completed:
retrying cannot fix it, and it must not be lost. The record keeps the item's shape and ids but not its
subject values or callback URL (see :func:`dsr.records.redacted_item`), and names the refused field
as the item's record names it (an unknown key that may be data as ``<redacted key N>``). Transient failures
raise, so the Functions host retries the message (five attempts, then ``dsr-requests-poison``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from dsr import layout
from dsr.config import REQUEST_QUEUE_SETTING, get_settings
from dsr.errors import InvalidRequestError, PermanentError
from dsr.records import redacted_field, redacted_item
from dsr.runtime import get_runtime
from dsr.storage import put_json
from dsr.untrusted_json import parse_untrusted
from triggers.submission import admit, submit

bp = df.Blueprint()
log = logging.getLogger("dsr.queue")

MAX_REQUESTS_PER_MESSAGE = 100


def _requests_in(body: bytes) -> list[Any]:
    parsed = parse_untrusted(body)
    if isinstance(parsed, dict) and "requests" in parsed:
        beside = sorted(set(parsed) - {"requests"})
        if beside:  # a batch is the list alone: a field beside it would be silently dropped
            raise InvalidRequestError(beside[0], "unknown field beside the requests of a batch")
        items = parsed["requests"]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_REQUESTS_PER_MESSAGE:
            raise InvalidRequestError("requests", f"must be a list of 1-{MAX_REQUESTS_PER_MESSAGE} requests")
        return items
    return [parsed]


def _reject(message: func.QueueMessage, index: int | None, error: Exception, item: Any) -> None:
    """Record a refused item under ``intake/rejected/`` without its personal data or secrets.

    A refusal names the field it refused, and an unknown field's name may be data (an e-mail address):
    the field is named as the redacted item names it (see :func:`dsr.records.redacted_field`), in the
    reason too. The other refusals name only what the item keeps (a valid endpoint's host, a request id).
    """
    field = redacted_field(item, getattr(error, "field", None))
    reason = f"{type(error).__name__}: {error}"
    if isinstance(error, InvalidRequestError):  # its text is "<field>: <message>"; messages hold no values
        reason = f"{type(error).__name__}: {field}: {error.message}"
    record = {
        "messageId": message.id,
        "index": index,
        "field": field,
        "reason": reason,
        "item": redacted_item(item),
    }
    put_json(
        get_runtime().store, layout.rejected_item(datetime.now(UTC), message.id or "unknown", index), record
    )
    which = "" if index is None else f" item {index}"
    log.warning("queue message %s%s rejected: %s", message.id, which, type(error).__name__)


@bp.queue_trigger(
    arg_name="message", queue_name=f"%{REQUEST_QUEUE_SETTING}%", connection="AzureWebJobsStorage"
)
@bp.durable_client_input(client_name="client")
async def intake_queue(message: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    """Start every valid request in the message; record invalid ones; raise only on transient failure."""
    body = message.get_body()
    try:
        items = _requests_in(body)
    except InvalidRequestError as exc:
        _reject(message, None, exc, body)
        return
    settings = get_settings()
    for index, item in enumerate(items):
        try:
            request = admit(item, settings)
            runtime = get_runtime()
            submission = await submit(client, request, settings, runtime.store, runtime.records)
        except PermanentError as exc:
            _reject(message, index, exc, item)
            continue
        log.info(
            "request %s %s from queue", submission.request_id, "accepted" if submission.created else "seen"
        )
