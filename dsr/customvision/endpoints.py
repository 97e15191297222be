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
from urllib.parse import SplitResult, urlsplit

from dsr.errors import EndpointNotAllowedError

_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HTTPS_PORTS = (None, 443)
_UNREPORTABLE = "<malformed endpoint>"


def _origin(parts: SplitResult) -> str:
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" if parts.port is None else f"{parts.scheme}://{host}:{parts.port}"


@dataclass(frozen=True)
class EndpointAllowList:
    """Allowed Custom Vision endpoints: https hosts under ``suffixes`` plus exact ``extra_origins``."""

    suffixes: tuple[str, ...] = (".cognitiveservices.azure.com", ".api.cognitive.microsoft.com")
    extra_origins: tuple[str, ...] = ()

    def check(self, endpoint: str) -> str:
        """Return the normalized origin (``scheme://host[:port]``) or raise ``EndpointNotAllowedError``."""
        parts = self._split(endpoint)
        host = parts.hostname or ""
        if _origin(parts) in {origin.rstrip("/").lower() for origin in self.extra_origins}:
            return _origin(parts)
        if parts.scheme != "https" or parts.port not in _HTTPS_PORTS:
            raise EndpointNotAllowedError(host)
        labels = host.split(".")
        if not all(_DNS_LABEL.match(label) for label in labels):
            raise EndpointNotAllowedError(host)
        for suffix in self.suffixes:
            bare = suffix.lower().lstrip(".")
            if host.endswith("." + bare) and len(host) > len(bare) + 1:
                return f"https://{host}"
        raise EndpointNotAllowedError(host)

    @staticmethod
    def _split(endpoint: str) -> SplitResult:
        if not endpoint.isascii() or not endpoint.isprintable() or any(c in endpoint for c in " \\"):
            raise EndpointNotAllowedError(_UNREPORTABLE)
        try:
            parts = urlsplit(endpoint.strip().rstrip("/"))
            parts.port  # noqa: B018 - urlsplit validates the port lazily; a bad one raises here
        except ValueError as exc:
            raise EndpointNotAllowedError(_UNREPORTABLE) from exc
        if "@" in parts.netloc or parts.path or parts.query or parts.fragment or ";" in endpoint:
            # Do not echo the endpoint: userinfo may hold a password.
            raise EndpointNotAllowedError(_UNREPORTABLE)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise EndpointNotAllowedError(_UNREPORTABLE)
        return parts
