"""Serving the app's HTTP-triggered functions: routing, auth levels, request/response conversion."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func
from aiohttp import web

from devhost.auth import allows_admin, allows_function
from devhost.config import HostKeys
from devhost.invoker import Invoker
from devhost.loader import FunctionIndex, FunctionInfo
from devhost.rpc_http import worker_headers, worker_query

log = logging.getLogger("devhost")


def to_aiohttp(result: Any) -> web.Response:
    """Map what a function returned to an HTTP response, as the worker's http output binding does."""
    if result is None:
        return web.Response(status=204)
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items() if k.lower() != "content-type"}
        content_type = result.headers.get("content-type") or result.mimetype or "text/plain"
        response = web.Response(status=result.status_code, body=result.get_body(), headers=headers)
        response.headers["Content-Type"] = (
            content_type
            if "charset" in content_type or not result.charset
            else f"{content_type}; charset={result.charset}"
        )
        return response
    if isinstance(result, str | bytes):
        return web.Response(
            body=result.encode() if isinstance(result, str) else result, content_type="text/plain"
        )
    return web.Response(text=json.dumps(result), content_type="application/json")


class HttpTriggers:
    """Routes requests under the route prefix to the matching function."""

    def __init__(
        self,
        index: FunctionIndex,
        invoker: Invoker,
        *,
        keys: HostKeys,
        client_binding: Callable[[], str],
    ) -> None:
        self._functions = index.http
        self._invoker = invoker
        self._keys = keys
        self._client_binding = client_binding
        self._warned_open = False

    def _match(self, path: str, method: str) -> tuple[FunctionInfo, dict[str, str]] | None:
        # The host's routes carry their methods as constraints: a route whose methods exclude the
        # request's does not match at all, so a wrong method is 404 like an unknown path.
        for info in self._functions:
            assert info.route is not None, "HTTP functions always have a route"
            params = info.route.match(path)
            if params is not None and (not info.methods or method in info.methods):
                return info, params
        return None

    def _authorized(self, request: web.Request, info: FunctionInfo) -> bool:
        if info.auth_level == "anonymous":
            return True
        if not self._keys.enabled:
            if not self._warned_open:
                log.warning(
                    "No function key configured (DEVHOST_FUNCTION_KEY / --function-key):"
                    " '%s'-level functions are open, as with Core Tools",
                    info.auth_level,
                )
                self._warned_open = True
            return True
        if info.auth_level == "admin":
            return allows_admin(request, self._keys)
        return allows_function(request, self._keys)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request for an app route (``tail`` is the path after the prefix)."""
        matched = self._match(request.match_info.get("tail", ""), request.method)
        if matched is None:
            return web.Response(status=404)
        info, route_params = matched
        if not self._authorized(request, info):
            return web.Response(status=401)
        # As the host: the worker gets a body only when Content-Length > 0; a chunked one arrives empty.
        body = await request.read() if (request.content_length or 0) > 0 else b""
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=worker_headers(request.headers.items()),
            params=worker_query(request.query.items()),
            route_params=route_params,
            body=body,
        )
        kwargs: dict[str, Any] = {info.trigger_arg: http_request}
        for name in info.client_args:
            kwargs[name] = self._client_binding()
        try:
            result = await self._invoker.call(
                info, kwargs, "This function was programmatically called via the host APIs."
            )
        except Exception:
            return web.Response(status=500)
        return to_aiohttp(result)
