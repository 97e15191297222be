"""Key checks as the Functions host makes them (sources in docs/devhost.md, "Keys").

A request's key is the ``x-functions-key`` header, else the ``code`` query parameter (the header wins
even when both are present). The master key is admin level and opens everything; a function key opens
function-level routes only; a system key opens only the extension webhook it is named after.
"""

from __future__ import annotations

import hmac
from enum import IntEnum

from aiohttp import web

from devhost.config import HostKeys

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


class Level(IntEnum):
    """The host's AuthorizationLevel values that devhost hands out."""

    ANONYMOUS = 0
    FUNCTION = 2
    SYSTEM = 3
    ADMIN = 4


def supplied_key(request: web.Request) -> str:
    """The key a request carries: the header if it is there at all (even empty: the host looks no
    further), else ``?code=`` in any case (ASP.NET query names are case-insensitive)."""
    if KEY_HEADER in request.headers:
        return request.headers[KEY_HEADER]
    return next((value for name, value in request.query.items() if name.lower() == KEY_QUERY), "")


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def level_of(request: web.Request, keys: HostKeys) -> Level:
    """The level the request's key grants (ANONYMOUS when it matches no key)."""
    key = supplied_key(request)
    if _same(key, keys.master):
        return Level.ADMIN
    if _same(key, keys.system):
        return Level.SYSTEM
    if any(_same(key, k) for k in keys.function):
        return Level.FUNCTION
    return Level.ANONYMOUS


def allows_function(request: web.Request, keys: HostKeys) -> bool:
    """Function-level routes: a function key or the master key (a system key is not enough)."""
    return level_of(request, keys) in (Level.FUNCTION, Level.ADMIN)


def allows_webhook(request: web.Request, keys: HostKeys) -> bool:
    """Extension webhooks: the extension's system key or the master key."""
    return level_of(request, keys) in (Level.SYSTEM, Level.ADMIN)


def allows_admin(request: web.Request, keys: HostKeys) -> bool:
    """Admin APIs (``/admin/...``) and admin-level routes: the master key only."""
    return level_of(request, keys) == Level.ADMIN
