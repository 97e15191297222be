"""Which hosts may receive a training key.

A request names the account endpoint, so without a check anyone able to submit a request could make us
send a training key to a host of their choosing. Only bare origins pass: https on a host under an allowed
suffix, or one of a few exact extra origins (the local emulator). Anything with userinfo, a path, a query
or a fragment is refused, so ``https://evil.com?x=.cognitiveservices.azure.com`` and
``https://x.cognitiveservices.azure.com@evil.com`` cannot slip through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from dsr.errors import EndpointNotAllowedError

_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_UNREPORTABLE = "<malformed endpoint>"


DEFAULT_ENDPOINT_SUFFIXES = (".cognitiveservices.azure.com", ".api.cognitive.microsoft.com")
"""Where Azure serves Custom Vision: resource-named hosts and the older regional hosts."""
_DEFAULT_PORTS = {"https": 443, "http": 80}
_REFUSED_CHARACTERS = frozenset(" \\?#@;")


def canonical_origin(endpoint: str) -> str:
    """``scheme://host[:port]`` of an endpoint: lower-case, default port dropped, one spelling per origin.

    Refuses (without echoing the value: userinfo may hold a password) anything that is not a bare
    origin: userinfo, a path, a query or a fragment, even an empty one (``https://host?``), and ports
    that are not plain numbers. The contract and the allow-list both use this, so a request is stored
    under the same spelling that the allow-list approved.
    """
    if not endpoint.isascii() or not endpoint.isprintable() or _REFUSED_CHARACTERS & set(endpoint):
        raise EndpointNotAllowedError(_UNREPORTABLE)
    try:
        parts = urlsplit(endpoint.removesuffix("/"))
        port = parts.port
    except ValueError as exc:  # urlsplit validates the port lazily
        raise EndpointNotAllowedError(_UNREPORTABLE) from exc
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in _DEFAULT_PORTS or not host or parts.path or host.endswith("."):
        raise EndpointNotAllowedError(_UNREPORTABLE)
    if not all(_DNS_LABEL.fullmatch(label) for label in host.split(".")):
        raise EndpointNotAllowedError(_UNREPORTABLE)
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class EndpointAllowList:
    """Allowed Custom Vision endpoints: https hosts under ``suffixes`` plus exact ``extra_origins``."""

    suffixes: tuple[str, ...] = DEFAULT_ENDPOINT_SUFFIXES
    extra_origins: tuple[str, ...] = ()

    def check(self, endpoint: str) -> str:
        """Return the canonical origin (``scheme://host[:port]``) or raise ``EndpointNotAllowedError``."""
        origin = canonical_origin(endpoint)
        if origin in {extra.rstrip("/").lower() for extra in self.extra_origins}:
            return origin
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.scheme != "https" or parts.port is not None:
            raise EndpointNotAllowedError(host)
        for suffix in self.suffixes:
            bare = suffix.lower().lstrip(".")
            if host.endswith("." + bare) and len(host) > len(bare) + 1:
                return origin
        raise EndpointNotAllowedError(host)
