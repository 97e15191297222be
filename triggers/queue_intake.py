"""Queue ``dsr-requests`` (app setting ``DSR_REQUEST_QUEUE``): bulk submission.

One request per message, or ``{"requests": [...]}``.

A message that fails validation is recorded in the export container under ``intake/rejected/`` with
the reason, and then completed: retrying cannot fix it, and it must not be lost. Transient failures
raise, so the Functions host retries the message (five attempts, then ``dsr-requests-poison``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from dsr.config import REQUEST_QUEUE_SETTING, get_settings
from dsr.errors import PermanentError
from dsr.runtime import get_runtime
from dsr.storage import put_json
from triggers.intake import admit, submit

bp = df.Blueprint()
log = logging.getLogger("dsr.queue")

MAX_REQUESTS_PER_MESSAGE = 100


def _requests_in(message: func.QueueMessage) -> list[Any]:
    body = json.loads(message.get_body())
    if isinstance(body, dict) and "requests" in body:
        items = body["requests"]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_REQUESTS_PER_MESSAGE:
            raise ValueError(f"'requests' must be a list of 1-{MAX_REQUESTS_PER_MESSAGE} requests")
        return items
    return [body]


def _reject(message: func.QueueMessage, index: int | None, reason: str, content: Any) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "" if index is None else f"-{index}"
    path = f"intake/rejected/{stamp}-{message.id}{suffix}.json"
    put_json(
        get_runtime().store,
        path,
        {"messageId": message.id, "index": index, "reason": reason, "content": content},
    )
    log.warning("queue message %s%s rejected: %s", message.id, suffix, reason)


@bp.queue_trigger(
    arg_name="message", queue_name=f"%{REQUEST_QUEUE_SETTING}%", connection="AzureWebJobsStorage"
)
@bp.durable_client_input(client_name="client")
async def intake_queue(message: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    """Start every valid request in the message; record invalid ones; raise only on transient failure."""
    try:
        items = _requests_in(message)
    except (ValueError, UnicodeDecodeError) as exc:
        _reject(message, None, f"unreadable message: {exc}", message.get_body().decode("utf-8", "replace"))
        return
    settings = get_settings()
    for index, item in enumerate(items):
        try:
            request = admit(item, settings)
            submission = await submit(client, request, settings, get_runtime().store)
        except PermanentError as exc:
            _reject(message, index, f"{type(exc).__name__}: {exc}", item)
            continue
        log.info(
            "request %s %s from queue", submission.request_id, "accepted" if submission.created else "seen"
        )
