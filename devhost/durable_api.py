"""The Durable Functions HTTP API: RPC base (``/durabletask/``) and public webhooks share these handlers."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from devhost.client_binding import DurableUrls
from devhost.dispatcher import Dispatcher
from devhost.history import (
    TERMINAL_STATUSES,
    EventType,
    RuntimeStatus,
    event,
    parse_time,
    status_time,
)
from devhost.loader import FunctionIndex
from devhost.store import InstanceExistsError, InstanceFilter, InstanceRecord, Store

log = logging.getLogger("devhost.durable")

RUNNING_STATUSES = frozenset(
    {RuntimeStatus.PENDING, RuntimeStatus.RUNNING, RuntimeStatus.CONTINUED_AS_NEW, RuntimeStatus.SUSPENDED}
)
STATUS_RETRY_AFTER_SECONDS = "5"
START_RETRY_AFTER_SECONDS = "10"
# History events the status API leaves out, like the extension does.
_HIDDEN_HISTORY = frozenset({EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED})
_OUTPUT_FIELDS = ("Input", "Result", "Reason", "Details")
MAX_INSTANCE_ID_LENGTH = 256
_BAD_ARGUMENTS = "One or more of the arguments submitted is incorrect"
CONTINUATION_HEADER = "x-ms-continuation-token"
DEFAULT_PAGE_SIZE = 100
"""Instances per list page when ``top`` is not given (OrchestrationStatusQueryCondition in the extension)."""


class ArgumentException(ValueError):
    """A refused argument; the API reports it as .NET's ArgumentException."""


_INVALID_ID_CHARACTERS = frozenset("/\\#?")


def instance_id_error(instance_id: str) -> str | None:
    """Why the Durable client refuses ``instance_id`` (its ArgumentException message), or None.

    The extension passes the text as the parameter name, so .NET renders it as ``instanceId
    (Parameter '...')``; the length check has it the right way round.
    """
    if instance_id.startswith("@"):
        return "instanceId (Parameter 'Orchestration instance ids must not start with @.')"
    if any(c in _INVALID_ID_CHARACTERS or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in instance_id):
        return (
            "instanceId (Parameter 'Orchestration instance ids must not contain /, \\, #, ?,"
            " or control characters.')"
        )
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        return f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters."
    return None


def query_flag(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter, parsed case-insensitively like .NET's bool.TryParse."""
    for key, value in request.query.items():
        if key.lower() == name.lower():
            return value.strip().lower() == "true"
    return default


def _json_value(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def _error(status: int, message: str, ex: Exception) -> web.Response:
    return web.json_response(
        {"Message": message, "ExceptionMessage": str(ex), "ExceptionType": type(ex).__name__}, status=status
    )


def _history_view(raw: list[str], *, with_output: bool) -> list[dict[str, Any]]:
    view: list[dict[str, Any]] = []
    for text in raw:
        ev = json.loads(text)
        kind = ev["EventType"]
        if kind in _HIDDEN_HISTORY:
            continue
        item = {k: v for k, v in ev.items() if k not in ("IsPlayed", *_OUTPUT_FIELDS)}
        item["EventType"] = "".join(p.title() for p in EventType(kind).name.split("_"))
        if with_output:
            item.update({k: ev[k] for k in _OUTPUT_FIELDS if k in ev})
        view.append(item)
    return view


class DurableApi:
    """aiohttp handler for ``{base}/{tail}`` of the Durable HTTP API."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        index: FunctionIndex,
        urls: Callable[[], DurableUrls],
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._index = index
        self._urls = urls

    def status_payload(
        self, record: InstanceRecord, *, show_input: bool, history: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The instance status object of the API."""
        payload: dict[str, Any] = {
            "name": record.name,
            "instanceId": record.instance_id,
            "runtimeStatus": record.status,
            "input": _json_value(record.input_json) if show_input else None,
            "customStatus": _json_value(record.custom_status_json),
            "output": _json_value(record.output_json),
            "createdTime": status_time(record.created),
            "lastUpdatedTime": status_time(record.updated),
        }
        if history is not None:
            payload["historyEvents"] = history
        return payload

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Dispatch one API call."""
        parts = [p for p in request.match_info["tail"].split("/") if p]
        method = request.method
        if parts[:1] == ["orchestrators"] and method == "POST" and len(parts) in (2, 3):
            return await self._start(request, parts[1], parts[2] if len(parts) == 3 else None)
        if parts[:1] != ["instances"]:
            return web.Response(status=404)
        if len(parts) == 1:
            return self._collection(request)
        instance_id = parts[1]
        record = self._store.get_instance(instance_id)
        if len(parts) == 2 and method == "GET":
            return self._status(request, record)
        if len(parts) == 2 and method == "DELETE":
            deleted = self._store.purge([instance_id]) if record else 0
            return web.json_response({"instancesDeleted": deleted}) if deleted else web.Response(status=404)
        operation = parts[2].lower() if len(parts) > 2 else ""
        if method == "POST" and operation == "raiseevent" and len(parts) == 4:
            return await self._raise_event(request, record, parts[3])
        if method == "POST" and operation == "terminate":
            return self._terminate(request, record)
        if method == "POST" and operation in ("rewind", "suspend", "resume", "restart"):
            return web.json_response({"Message": f"'{operation}' is not supported by devhost"}, status=501)
        return web.Response(status=404)

    async def _start(self, request: web.Request, name: str, instance_id: str | None) -> web.Response:
        if name not in self._index.orchestrators:
            ex = ArgumentException(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
            return _error(400, "One or more of the arguments submitted is incorrect", ex)
        body = await request.read()
        try:
            token = json.loads(body) if body.strip() else None
        except ValueError as ex:
            return _error(400, "Invalid JSON content", ex)
        instance_id = instance_id or uuid.uuid4().hex
        refused = instance_id_error(instance_id)
        if refused is not None:
            return _error(400, _BAD_ARGUMENTS, ArgumentException(refused))
        try:
            self._store.create_instance(instance_id, name, json.dumps(token))
        except InstanceExistsError as ex:
            return _error(500, "Something went wrong while processing your request", ex)
        log.info("Started orchestration %s (%s)", instance_id, name)
        self._dispatcher.wake(instance_id)
        links = self._urls().management_links(instance_id, origin=_origin(request))
        links.pop("rewindPostUri")
        return web.json_response(
            links,
            status=202,
            headers={"Location": links["statusQueryGetUri"], "Retry-After": START_RETRY_AFTER_SECONDS},
        )

    def _status(self, request: web.Request, record: InstanceRecord | None) -> web.Response:
        if record is None:
            return web.Response(status=404)
        history = None
        if query_flag(request, "showHistory"):
            raw = self._store.history(record.instance_id)
            history = _history_view(raw, with_output=query_flag(request, "showHistoryOutput"))
        payload = self.status_payload(
            record, show_input=query_flag(request, "showInput", True), history=history
        )
        if record.status in RUNNING_STATUSES:
            return web.json_response(
                payload,
                status=202,
                headers={"Location": str(request.url), "Retry-After": STATUS_RETRY_AFTER_SECONDS},
            )
        failed_as_error = record.status == RuntimeStatus.FAILED and query_flag(
            request, "returnInternalServerErrorOnFailure"
        )
        return web.json_response(payload, status=500 if failed_as_error else 200)

    def _collection(self, request: web.Request) -> web.Response:
        try:
            where = _instance_filter(request)
        except ValueError as ex:
            return _error(400, "One or more of the arguments submitted is incorrect", ex)
        records = self._store.query_instances(where)
        if request.method == "GET":
            try:
                page, token = _page(
                    records, request.query.get("top"), request.headers.get(CONTINUATION_HEADER)
                )
            except ValueError as ex:
                return _error(400, _BAD_ARGUMENTS, ex)
            show_input = query_flag(request, "showInput")
            headers = {CONTINUATION_HEADER: token} if token else None
            return web.json_response(
                [self.status_payload(r, show_input=show_input) for r in page], headers=headers
            )
        if request.method == "DELETE":
            if where.created_from is None:
                return web.json_response("Please provide value for 'createdTimeFrom' parameter.", status=400)
            deleted = self._store.purge([r.instance_id for r in records])
            return web.json_response({"instancesDeleted": deleted}) if deleted else web.Response(status=404)
        return web.Response(status=405)

    async def _raise_event(
        self, request: web.Request, record: InstanceRecord | None, name: str
    ) -> web.Response:
        if record is None:
            return web.Response(status=404)
        if record.status in TERMINAL_STATUSES:
            return web.Response(status=410)
        if request.content_type != "application/json":
            return web.json_response("Only application/json request content is supported", status=400)
        body = await request.read()
        try:
            token = json.loads(body) if body.strip() else None
        except ValueError as ex:
            return _error(400, "Invalid JSON content", ex)
        # The stored JToken is re-serialized, so a client's double-encoded payload arrives as a string.
        self._store.add_message(
            record.instance_id, event(EventType.EVENT_RAISED, Name=name, Input=json.dumps(token))
        )
        self._dispatcher.wake(record.instance_id)
        return web.Response(status=202)

    def _terminate(self, request: web.Request, record: InstanceRecord | None) -> web.Response:
        if record is None:
            return web.Response(status=404)
        if record.status in TERMINAL_STATUSES:
            return web.Response(status=410)
        reason = request.query.get("reason", "")
        self._store.add_message(record.instance_id, event(EventType.EXECUTION_TERMINATED, Input=reason))
        self._dispatcher.wake(record.instance_id)
        return web.Response(status=202)


def _origin(request: web.Request) -> str:
    return f"{request.url.scheme}://{request.url.raw_authority}"


def _page(
    records: list[InstanceRecord], top: str | None, token: str | None
) -> tuple[list[InstanceRecord], str | None]:
    """One page of an instance list and the token of the next, as Azure's HTTP API answers it.

    Azure returns at most ``top`` instances (default 100) and an ``x-ms-continuation-token`` header
    while more match; a client must send it back to read on. The token is opaque: here, an offset.
    """
    size = int(top) if top else DEFAULT_PAGE_SIZE
    if size < 1:
        raise ValueError("top must be at least 1")
    start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(records) else None
    return records[start:end], following


def _instance_filter(request: web.Request) -> InstanceFilter:
    q = request.query
    statuses = q.get("runtimeStatus")
    return InstanceFilter(
        created_from=parse_time(q["createdTimeFrom"]) if q.get("createdTimeFrom") else None,
        created_to=parse_time(q["createdTimeTo"]) if q.get("createdTimeTo") else None,
        statuses=frozenset(s.strip() for s in statuses.split(",") if s.strip()) if statuses else None,
        prefix=q.get("instanceIdPrefix") or None,
    )
