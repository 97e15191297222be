"""HTTP side of the Key Vault stand-in: the vault (HTTPS) and the managed-identity token endpoint (HTTP).

The vault speaks the Key Vault secrets REST protocol closely enough that azure-keyvault-secrets and
azure-identity run unchanged against it: the bearer challenge on 401, secret bundles and paged lists,
soft delete, and Key Vault's error bodies. The token endpoint answers like App Service's managed-identity
endpoint (``IDENTITY_ENDPOINT`` + ``X-IDENTITY-HEADER``). Neither ever logs a secret value or a token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from devstack.keyvault.certs import PRIVATE_FILE_MODE, CertificatePaths, write_file
from devstack.keyvault.tokens import TokenAuthority, normalize_resource
from devstack.keyvault.vault import RECOVERABLE_DAYS, RECOVERY_LEVEL, Secret, SecretVersion, Vault, VaultError

log = logging.getLogger("devstack.keyvault")

VAULT_RESOURCE = "https://vault.azure.net"
AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_TENANT_ID = "72f988bf-0000-4000-8000-00000000d5a1"
"""A fixed, made-up tenant: the challenge must name one, and clients only pass it back."""
MANAGED_IDENTITY_CLIENT_ID = "5e1d0c3a-0000-4000-8000-000000000d57"
MANAGED_IDENTITY_API_VERSION = "2019-08-01"
IDENTITY_HEADER_NAME = "X-IDENTITY-HEADER"
TOKEN_PATH = "/metadata/identity/oauth2/token"  # noqa: S105 - a URL path, not a credential
FAULTS_PATH = "/devstack/faults"
MAX_PAGE_SIZE = 25
IDENTITY_HEADER_BYTES = 24
_API_VERSION = re.compile(r"^(7\.[0-9]|20[0-9]{2}-[0-9]{2}-[0-9]{2})(-preview(\.[0-9]+)?)?$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_or_create_identity_header(path: Path) -> str:
    """The shared secret a managed-identity caller must send, created (mode 0600) on first use."""
    if path.exists():
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
    value = secrets.token_urlsafe(IDENTITY_HEADER_BYTES)
    write_file(path, value.encode("ascii"), PRIVATE_FILE_MODE)
    return value


def _error(status: int, code: str, message: str, inner_code: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if inner_code:
        body["innererror"] = {"code": inner_code}
    return web.json_response({"error": body}, status=status)


@dataclass
class FaultPlan:
    """Makes the next ``remaining`` vault requests fail with ``status`` (tests of retry/mapping paths)."""

    status: int = 0
    remaining: int = 0
    retry_after: int | None = None


_FAULT_CODES = {429: "Throttled", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}


class KeyVaultStandIn:
    """Holds the vault, the token authority and the fault plan; builds the two aiohttp applications."""

    def __init__(
        self,
        vault: Vault,
        authority: TokenAuthority,
        identity_header: str,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
    ) -> None:
        self.vault = vault
        self.authority = authority
        self._identity_header = identity_header
        self._tenant_id = tenant_id
        self.faults = FaultPlan()

    # ---- vault (HTTPS) -------------------------------------------------------------------------------

    def vault_app(self) -> web.Application:
        """The Key Vault REST application."""
        app = web.Application(
            middlewares=[self._errors, self._fault_injection, self._auth, self._api_version]
        )
        app.router.add_get("/ping", self._ping)
        app.router.add_get("/secrets", self._list_secrets)
        app.router.add_get("/secrets/{name}/versions", self._list_versions)
        app.router.add_put("/secrets/{name}", self._set_secret)
        app.router.add_delete("/secrets/{name}", self._delete_secret)
        app.router.add_get(r"/secrets/{name}", self._get_secret)
        app.router.add_get(r"/secrets/{name}/{version:[^/]*}", self._get_secret)
        app.router.add_patch(r"/secrets/{name}/{version:[^/]*}", self._update_secret)
        app.router.add_get("/deletedsecrets", self._list_deleted)
        app.router.add_get("/deletedsecrets/{name}", self._get_deleted)
        app.router.add_delete("/deletedsecrets/{name}", self._purge_deleted)
        app.router.add_post("/deletedsecrets/{name}/recover", self._recover_deleted)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except VaultError as exc:
            return _error(exc.status, exc.code, exc.message, exc.inner_code)
        except web.HTTPMethodNotAllowed:
            return _error(405, "MethodNotAllowed", f"The method {request.method} is not allowed here.")
        except web.HTTPNotFound:
            return _error(404, "NotFound", "The requested resource does not exist.")

    @web.middleware
    async def _fault_injection(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        plan = self.faults
        if request.path == "/ping" or plan.remaining <= 0:
            return await handler(request)
        plan.remaining -= 1
        response = _error(
            plan.status, _FAULT_CODES.get(plan.status, "ServiceError"), "Injected fault (devstack)."
        )
        if plan.retry_after is not None:
            response.headers["Retry-After"] = str(plan.retry_after)
        return response

    def _challenge(self, message: str) -> web.Response:
        response = _error(401, "Unauthorized", message)
        response.headers["WWW-Authenticate"] = (
            f'Bearer authorization="{AUTHORITY_HOST}/{self._tenant_id}", resource="{VAULT_RESOURCE}"'
        )
        return response

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/ping":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._challenge("AKV10000: Request is missing a Bearer or PoP token.")
        reason = self.authority.verify(token.strip(), VAULT_RESOURCE)
        if reason is not None:
            log.info("rejected bearer token on %s %s: %s", request.method, request.path, reason)
            return self._challenge(f"AKV10022: Invalid access token: {reason}.")
        return await handler(request)

    @web.middleware
    async def _api_version(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/ping":
            return await handler(request)
        version = request.query.get("api-version", "")
        if not version:
            return _error(400, "BadParameter", "The api-version query parameter (?api-version=) is required.")
        if not _API_VERSION.match(version):
            return _error(400, "BadParameter", f"The specified version ({version}) is not recognized.")
        return await handler(request)

    @staticmethod
    async def _ping(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    @staticmethod
    def _base(request: web.Request) -> str:
        return f"https://{request.host}"

    @staticmethod
    def _attributes(version: SecretVersion) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "enabled": version.enabled,
            "created": version.created,
            "updated": version.updated,
            "recoveryLevel": RECOVERY_LEVEL,
            "recoverableDays": RECOVERABLE_DAYS,
        }
        if version.not_before is not None:
            attrs["nbf"] = version.not_before
        if version.expires is not None:
            attrs["exp"] = version.expires
        return attrs

    def _item(
        self, base: str, secret: Secret, version: SecretVersion, *, with_version: bool
    ) -> dict[str, Any]:
        suffix = f"/{version.version}" if with_version else ""
        item: dict[str, Any] = {
            "id": f"{base}/secrets/{secret.name}{suffix}",
            "attributes": self._attributes(version),
        }
        if version.content_type is not None:
            item["contentType"] = version.content_type
        if version.tags is not None:
            item["tags"] = version.tags
        return item

    def _bundle(self, base: str, secret: Secret, version: SecretVersion, *, value: bool) -> dict[str, Any]:
        bundle = self._item(base, secret, version, with_version=True)
        if value:
            bundle = {"value": version.value, **bundle}
        return bundle

    def _deleted(self, base: str, secret: Secret, *, item: bool) -> dict[str, Any]:
        if item:
            doc = self._item(base, secret, secret.latest, with_version=False)
        else:
            doc = self._bundle(base, secret, secret.latest, value=False)
        doc["recoveryId"] = f"{base}/deletedsecrets/{secret.name}"
        doc["deletedDate"] = secret.deleted_date
        doc["scheduledPurgeDate"] = secret.scheduled_purge_date
        return doc

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise VaultError(400, "BadParameter", "The request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise VaultError(400, "BadParameter", "The request body must be a JSON object.")
        return body

    @staticmethod
    def _optional_fields(body: dict[str, Any]) -> tuple[str | None, dict[str, str] | None, dict[str, Any]]:
        content_type = body.get("contentType")
        tags = body.get("tags")
        attributes = body.get("attributes") or {}
        if content_type is not None and not isinstance(content_type, str):
            raise VaultError(400, "BadParameter", "contentType must be a string.")
        if tags is not None and not (
            isinstance(tags, dict) and all(isinstance(v, str) for v in tags.values())
        ):
            raise VaultError(400, "BadParameter", "tags must be an object of strings.")
        if not isinstance(attributes, dict):
            raise VaultError(400, "BadParameter", "attributes must be an object.")
        return content_type, tags, attributes

    def _page(self, request: web.Request, path: str, items: list[dict[str, Any]]) -> web.Response:
        try:
            size = int(request.query.get("maxresults", MAX_PAGE_SIZE))
            token = request.query.get("$skiptoken")
            start = int(base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")) if token else 0
        except (ValueError, binascii.Error) as exc:
            raise VaultError(400, "BadParameter", "Invalid maxresults or $skiptoken.") from exc
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise VaultError(400, "BadParameter", f"maxresults must be between 1 and {MAX_PAGE_SIZE}.")
        end = start + size
        next_link = None
        if end < len(items):
            skip = base64.urlsafe_b64encode(str(end).encode("ascii")).decode("ascii")
            next_link = (
                f"{self._base(request)}{path}?api-version={request.query['api-version']}"
                f"&$skiptoken={skip}&maxresults={size}"
            )
        return web.json_response({"value": items[start:end], "nextLink": next_link})

    async def _set_secret(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        value = body.get("value")
        if not isinstance(value, str):
            raise VaultError(400, "BadParameter", "The secret value is required and must be a string.")
        content_type, tags, attributes = self._optional_fields(body)
        secret, version = self.vault.set(
            request.match_info["name"], value, content_type=content_type, tags=tags, attributes=attributes
        )
        return web.json_response(self._bundle(self._base(request), secret, version, value=True))

    async def _get_secret(self, request: web.Request) -> web.Response:
        secret, version = self.vault.get(
            request.match_info["name"], request.match_info.get("version") or None
        )
        return web.json_response(self._bundle(self._base(request), secret, version, value=True))

    async def _update_secret(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        content_type, tags, attributes = self._optional_fields(body)
        secret, version = self.vault.update(
            request.match_info["name"],
            request.match_info.get("version") or None,
            content_type=content_type,
            tags=tags,
            attributes=attributes,
        )
        return web.json_response(self._bundle(self._base(request), secret, version, value=False))

    async def _list_secrets(self, request: web.Request) -> web.Response:
        base = self._base(request)
        items = [self._item(base, s, s.latest, with_version=False) for s in self.vault.list_active()]
        return self._page(request, "/secrets", items)

    async def _list_versions(self, request: web.Request) -> web.Response:
        base = self._base(request)
        secret, versions = self.vault.list_versions(request.match_info["name"])
        items = [self._item(base, secret, v, with_version=True) for v in versions]
        return self._page(request, f"/secrets/{secret.name}/versions", items)

    async def _delete_secret(self, request: web.Request) -> web.Response:
        secret = self.vault.delete(request.match_info["name"])
        return web.json_response(self._deleted(self._base(request), secret, item=False))

    async def _list_deleted(self, request: web.Request) -> web.Response:
        base = self._base(request)
        items = [self._deleted(base, s, item=True) for s in self.vault.list_deleted()]
        return self._page(request, "/deletedsecrets", items)

    async def _get_deleted(self, request: web.Request) -> web.Response:
        secret = self.vault.get_deleted(request.match_info["name"])
        return web.json_response(self._deleted(self._base(request), secret, item=False))

    async def _purge_deleted(self, request: web.Request) -> web.Response:
        self.vault.purge(request.match_info["name"])
        return web.Response(status=204)

    async def _recover_deleted(self, request: web.Request) -> web.Response:
        secret = self.vault.recover(request.match_info["name"])
        return web.json_response(self._bundle(self._base(request), secret, secret.latest, value=False))

    # ---- managed-identity token endpoint (HTTP) -------------------------------------------------------

    def token_app(self) -> web.Application:
        """The App Service style managed-identity endpoint (plus the devstack fault control)."""
        app = web.Application()
        app.router.add_get("/ping", self._ping)
        app.router.add_get(TOKEN_PATH, self._issue_token)
        app.router.add_post(FAULTS_PATH, self._set_faults)
        return app

    def _identity_error(self, request: web.Request) -> web.Response | None:
        supplied = request.headers.get(IDENTITY_HEADER_NAME)
        if supplied is None:
            return web.json_response(
                {"statusCode": 400, "message": f"The {IDENTITY_HEADER_NAME} header is required."}, status=400
            )
        if not hmac.compare_digest(supplied.encode("utf-8"), self._identity_header.encode("utf-8")):
            log.info("rejected managed-identity request: wrong %s", IDENTITY_HEADER_NAME)
            return web.json_response(
                {"statusCode": 401, "message": f"The {IDENTITY_HEADER_NAME} header is not valid."}, status=401
            )
        return None

    async def _issue_token(self, request: web.Request) -> web.Response:
        refused = self._identity_error(request)
        if refused is not None:
            return refused
        if request.query.get("api-version") != MANAGED_IDENTITY_API_VERSION:
            return web.json_response(
                {"statusCode": 400, "message": f"api-version must be {MANAGED_IDENTITY_API_VERSION}."},
                status=400,
            )
        resource = request.query.get("resource", "")
        if not resource.startswith("https://"):
            return web.json_response(
                {"statusCode": 400, "message": "The resource parameter must be an https:// URI."}, status=400
            )
        issued = self.authority.issue(resource)
        log.info("issued managed-identity token for resource %s", normalize_resource(resource))
        return web.json_response(
            {
                "access_token": issued.token,
                "expires_on": str(issued.expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": request.query.get("client_id", MANAGED_IDENTITY_CLIENT_ID),
            }
        )

    async def _set_faults(self, request: web.Request) -> web.Response:
        refused = self._identity_error(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
            plan = FaultPlan(
                status=int(body.get("status", 0)),
                remaining=int(body.get("count", 0)),
                retry_after=None if body.get("retryAfter") is None else int(body["retryAfter"]),
            )
        except (ValueError, TypeError, AttributeError):
            return web.json_response({"statusCode": 400, "message": "Invalid fault plan."}, status=400)
        if plan.remaining and plan.status not in _FAULT_CODES:
            return web.json_response(
                {"statusCode": 400, "message": f"status must be one of {sorted(_FAULT_CODES)}."}, status=400
            )
        self.faults = plan
        return web.json_response({"status": plan.status, "count": plan.remaining})


def server_ssl_context(paths: CertificatePaths) -> ssl.SSLContext:
    """TLS context serving the stand-in's certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(paths.server_cert, paths.server_key)
    return context
