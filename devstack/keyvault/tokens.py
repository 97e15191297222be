"""Access tokens issued by the stand-in's managed-identity endpoint and checked by its vault endpoint.

A token is ``dst1.<payload>.<signature>``: base64url JSON claims (audience, expiry, issue time, id) and an
HMAC-SHA256 over them with a key kept in the data directory, so tokens stay valid across restarts but
cannot be made up by a client. They are opaque to clients, as real Entra ID tokens are to Key Vault users.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.keyvault.certs import PRIVATE_FILE_MODE, write_file

TOKEN_PREFIX = "dst1"  # noqa: S105 - format marker, not a credential
SIGNING_KEY_BYTES = 32
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_signing_key(path: Path) -> bytes:
    """The HMAC key stored at ``path`` (mode 0600), created on first use."""
    if path.exists():
        key = path.read_bytes()
        if len(key) < SIGNING_KEY_BYTES:
            raise ValueError(f"{path} holds a truncated signing key")
        return key
    key = secrets.token_bytes(SIGNING_KEY_BYTES)
    write_file(path, key, PRIVATE_FILE_MODE)
    return key


def normalize_resource(resource: str) -> str:
    """``https://vault.azure.net/`` and ``https://vault.azure.net/.default`` name the same audience."""
    resource = resource.strip()
    resource = resource.removesuffix("/.default")
    return resource.rstrip("/")


@dataclass(frozen=True)
class IssuedToken:
    """A token and its expiry (Unix seconds)."""

    token: str
    expires_on: int


class TokenAuthority:
    """Issues and verifies HMAC-signed bearer tokens."""

    def __init__(self, signing_key: bytes, lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS) -> None:
        self._key = signing_key
        self._lifetime = lifetime_seconds

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(
        self, resource: str, *, now: float | None = None, lifetime_seconds: int | None = None
    ) -> IssuedToken:
        """A token for ``resource`` valid for the configured lifetime (or ``lifetime_seconds``)."""
        issued_at = int(time.time() if now is None else now)
        expires_on = issued_at + (self._lifetime if lifetime_seconds is None else lifetime_seconds)
        claims = {
            "aud": normalize_resource(resource),
            "iat": issued_at,
            "exp": expires_on,
            "jti": secrets.token_hex(8),
        }
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return IssuedToken(token=f"{TOKEN_PREFIX}.{payload}.{self._sign(payload)}", expires_on=expires_on)

    def verify(self, token: str, resource: str, *, now: float | None = None) -> str | None:
        """None when ``token`` is valid for ``resource``, else a short reason (never the token itself)."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return "malformed token"
        _, payload, signature = parts
        if not hmac.compare_digest(self._sign(payload), signature):
            return "invalid signature"
        try:
            claims = json.loads(_unb64(payload))
            audience = str(claims["aud"])
            expires_on = int(claims["exp"])
        except (ValueError, KeyError, TypeError):
            return "malformed claims"
        if audience != normalize_resource(resource):
            return "invalid audience"
        if expires_on <= (time.time() if now is None else now):
            return "token expired"
        return None
