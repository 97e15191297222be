"""Request records: which body owns a ``requestId``, decided by one conditional write.

Two submissions of one ``requestId`` can arrive at the same moment (a portal's retry, a queue
redelivery, a second portal). Checking Durable's instance table and then writing leaves a window in
which both pass the check, so the first writer of the record blob wins instead: the blob is created with
``If-None-Match: *`` and holds the fingerprint (sha256 of the canonical body). Everything a run reads
later (the subject payload, the callback URL) is stored under that fingerprint, so a run can only ever
read what belongs to the body that won. The record outlives Durable history: a reused id with another
body is refused forever, and an identical resubmission never runs the request again.

Records hold ids, the operation, the endpoint and secret name and a timestamp: no personal data.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from dsr import layout
from dsr.categories import ALL_CATEGORIES
from dsr.contract import REQUEST_ID_PATTERN, SECRET_NAME_PATTERN, DsrRequest
from dsr.customvision import canonical_origin
from dsr.errors import EndpointNotAllowedError, RequestConflictError, RequestPayloadError
from dsr.storage import (
    ExportStore,
    StoredFileExistsError,
    StoredFileNotFoundError,
    create_json,
    get_json,
    put_json,
)
from dsr.times import format_time
from dsr.wire import RunTicket


class RequestRecord(TypedDict):
    requestId: str
    fingerprint: str
    operation: str
    endpoint: str
    receivedAt: str


@dataclass(frozen=True)
class Claim:
    record: RequestRecord
    created: bool
    """True for the submission whose write created the record; False for an identical resubmission."""


def new_run_ticket(attempt: int) -> RunTicket:
    return {"attempt": attempt, "token": secrets.token_hex(16)}


def run_started(store: ExportStore, request_id: str, attempt: int = 1) -> bool:
    """Whether an orchestration has claimed ``attempt`` of the request (see :func:`claim_run`)."""
    try:
        store.get_bytes(layout.run_ticket(request_id, attempt))
    except StoredFileNotFoundError:
        return False
    return True


def claim_run(store: ExportStore, request_id: str, ticket: RunTicket) -> bool:
    """Record that the orchestration holding ``ticket`` runs this attempt; False if another start did.

    Checking for an instance and then starting one leaves a window: a second identical submission
    that checked before the first started, and starts after the first finished, replaces the
    finished instance (Durable overrides non-running instances by default). Its orchestration must
    then run nothing. The first run of an attempt writes this blob (``If-None-Match: *``) before any
    work; a later start finds another token. The same token again is the same run (a replay, or a
    retried activity whose first try wrote the blob).
    """
    path = layout.run_ticket(request_id, ticket["attempt"])
    try:
        create_json(store, path, ticket)
        return True
    except StoredFileExistsError:
        existing: RunTicket = get_json(store, path)
    return existing["token"] == ticket["token"]


def claim(store: ExportStore, request: DsrRequest, received: datetime) -> Claim:
    """Create the request's record, or return the existing one if it is for the same body.

    Raises :class:`RequestConflictError` when the id already belongs to a different body.
    """
    record: RequestRecord = {
        "requestId": request["requestId"],
        "fingerprint": request["fingerprint"],
        "operation": request["operation"],
        "endpoint": request["account"]["endpoint"],
        "receivedAt": format_time(received),
    }
    try:
        create_json(store, layout.record(request["requestId"]), record)
        return Claim(record, created=True)
    except StoredFileExistsError:
        existing: RequestRecord = get_json(store, layout.record(request["requestId"]))
    if existing["fingerprint"] != request["fingerprint"]:
        raise RequestConflictError(request["requestId"], "this requestId was used for a different request")
    return Claim(existing, created=False)


def stash_payloads(store: ExportStore, request: DsrRequest) -> DsrRequest:
    """A copy of ``request`` whose subject metadata and callback URL live in blobs, not in the request.

    Only the claim's winner and identical resubmissions get here, so rewriting a payload writes the same
    bytes again: safe after a crash between the claim and the start of the orchestration.
    """
    request_id, fingerprint = request["requestId"], request["fingerprint"]
    subject = request["subject"]
    if subject is not None and subject["metadata"] is not None:
        path = put_json(store, layout.payload(request_id, fingerprint, "subject"), subject["metadata"]).path
        subject = {**subject, "metadata": None, "metadataFile": path}
    callback_file = request["callbackFile"]
    if request["callbackUrl"] is not None:
        url = request["callbackUrl"]
        callback_file = put_json(store, layout.payload(request_id, fingerprint, "callback"), url).path
    return {**request, "subject": subject, "callbackUrl": None, "callbackFile": callback_file}


def read_callback(store: ExportStore, request_id: str, callback_file: str) -> str:
    """The callback URL a request named, read back from its payload blob."""
    url = get_json(store, callback_file)
    if not isinstance(url, str):
        raise RequestPayloadError(request_id, "callback")
    return url


REDACTED = "<redacted>"
_KEPT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
"""Field names are kept when they look like field names; any other key may be data (an e-mail address)."""
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def redacted_item(item: Any) -> Any:
    """What a refused queue item may keep on record: its shape and ids, never subject values or URLs.

    A field that by the contract holds no personal data is kept only when its value is one the
    contract allows (the refused value is often the reason for the refusal: an id that is an e-mail
    address, an endpoint with a password in it). An unreadable message (raw bytes) is kept only as
    its size and sha256, which is enough to find it in the sender's logs.
    """
    if isinstance(item, bytes):
        return {"bytes": len(item), "sha256": hashlib.sha256(item).hexdigest()}
    if not isinstance(item, dict):
        return {"type": type(item).__name__}
    return _shape(item, _kept)


def redacted_field(item: Any, field: str | None) -> str | None:
    """The JSON path of a refused field as the record of ``item`` may keep it, beside ``redacted_item``.

    A refusal names the key it refused, and a key that is not a field name may be data (an e-mail
    address): each such key of the path is named as :func:`redacted_item` names it in the item
    (``<redacted key N>``), so the record still says which part was refused. List positions and field
    names are kept. A part of the path the item does not hold (a required field left out) is kept only
    if it is field names; otherwise it, and anything in a raw message (bytes), is ``<redacted>``.
    """
    if field is None:
        return None
    return ".".join(_path_names(item, field) if isinstance(item, (dict, list)) else _absent_names(field))


def _path_names(value: Any, path: str) -> list[str]:
    """``path`` (keys and list positions joined by dots, keys may hold dots) walked through ``value``."""
    if isinstance(value, dict):
        # The longest key first: "a.b" is the key "a.b" when the item has it, not "a" then "b".
        for key, name in sorted(_key_names(value), key=lambda pair: -len(pair[0])):
            if path == key:
                return [name]
            if path.startswith(f"{key}."):
                return [name, *_path_names(value[key], path[len(key) + 1 :])]
    elif isinstance(value, list):
        index, _, rest = path.partition(".")
        if index.isascii() and index.isdigit() and int(index) < len(value) and str(int(index)) == index:
            return [index, *(_path_names(value[int(index)], rest) if rest else [])]
    return _absent_names(path)


def _absent_names(path: str) -> list[str]:
    parts = path.split(".")
    return parts if all(_KEPT_KEY.fullmatch(part) for part in parts) else [REDACTED]


def _key_names(value: dict[Any, Any]) -> list[tuple[str, str]]:
    """Each key of ``value`` with the name a record gives it: itself if a field name, else numbered."""
    names: list[tuple[str, str]] = []
    hidden = 0
    for key in value:
        name = str(key)
        if not _KEPT_KEY.fullmatch(name):
            hidden += 1
            name = f"<redacted key {hidden}>"
        names.append((str(key), name))
    return names


def _shape(value: dict[Any, Any], keep: Callable[[str, Any], Any]) -> dict[str, Any]:
    """``value`` with each key that is a field name kept (others numbered) and each value from ``keep``."""
    return {
        name: keep(key, part) for (key, name), part in zip(_key_names(value), value.values(), strict=True)
    }


def _kept(key: str, value: Any) -> Any:
    if key == "requestId":
        return value if isinstance(value, str) and REQUEST_ID_PATTERN.fullmatch(value) else REDACTED
    if key == "operation":
        return value if value in ("export", "delete") else REDACTED
    if key == "dryRun":
        return value if isinstance(value, bool) else REDACTED
    if key == "categories" and isinstance(value, list):
        return [c if isinstance(c, str) and c in ALL_CATEGORIES else REDACTED for c in value]
    if key == "projectIds" and isinstance(value, list):
        return [p if isinstance(p, str) and _UUID.fullmatch(p) else REDACTED for p in value]
    if key == "account" and isinstance(value, dict):
        return _shape(value, _kept_account)
    if key == "subject" and isinstance(value, dict):
        return _shape(value, lambda _, part: _shape(part, _redact) if isinstance(part, dict) else REDACTED)
    return REDACTED


def _kept_account(key: str, value: Any) -> Any:
    if key == "trainingKeySecret":
        return value if isinstance(value, str) and SECRET_NAME_PATTERN.fullmatch(value) else REDACTED
    if key == "endpoint" and isinstance(value, str):
        try:
            return canonical_origin(value)
        except EndpointNotAllowedError:  # userinfo (a password), a path, a query: not kept
            return REDACTED
    return REDACTED


def _redact(_: str, __: Any) -> str:
    return REDACTED
