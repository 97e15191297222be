"""``GET /api/requests``: a page of requests from their records, with each one's state."""

from __future__ import annotations

import base64
from typing import Any

import azure.durable_functions as df

from dsr.errors import InvalidRequestError, RequestNotFoundError
from dsr.request_index import index_page
from dsr.storage import ExportStore, InvalidPageTokenError
from triggers.status_view import read_status

NOT_OURS = "is not a token this API gave out"


async def list_requests(
    client: df.DurableOrchestrationClient,
    store: ExportStore,
    *,
    state: str | None,
    operation: str | None,
    page_size: int,
    token: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows ``{requestId, operation, state, receivedAt}`` matching the filters, and the next token.

    Filters apply within one page of records, so a page may hold fewer rows than ``page_size`` (even
    none) while more follow: callers follow the token until it is None.
    """
    try:
        entries, following = index_page(store, page_size, _marker(token))
    except InvalidPageTokenError as exc:
        raise InvalidRequestError("continuationToken", NOT_OURS) from exc
    rows = []
    for entry in entries:
        if entry.finished:
            row = {
                "requestId": entry.request_id,
                "operation": entry.operation,
                "state": entry.state,
                "receivedAt": entry.received_at,
            }
        else:
            try:
                document = (await read_status(client, entry.request_id, store)).document
            except RequestNotFoundError:
                continue  # claimed but never started: GET answers 404 for it too
            row = {
                "requestId": entry.request_id,
                "operation": document["operation"],
                "state": document["state"],
                "receivedAt": document["receivedAt"],
            }
        if (state and row["state"] != state) or (operation and row["operation"] != operation):
            continue
        rows.append(row)
    return rows, None if following is None else _token(following)


def _token(marker: str) -> str:
    """The storage listing's marker, wrapped so that callers treat it as opaque."""
    return base64.urlsafe_b64encode(marker.encode()).decode().rstrip("=")


def _marker(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError("continuationToken", NOT_OURS) from exc
