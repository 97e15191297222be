"""Key Vault secrets behind a small interface: resolve a secret's current version, read a pinned version.

Orchestrators carry secret *names and versions*, never values; activities call :meth:`get_secret` when
they need the key. Reads are cached in-process, as Key Vault's throttling guidance asks: a value is
immutable for its (name, version), so it is kept long; "which version is current" is kept briefly so a
rotation is picked up quickly.

Nothing here logs a secret value or puts one into an exception. Errors carry the secret name, the HTTP
status and Key Vault's error code only.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Generic, Protocol, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

from dsr.config import Settings
from dsr.contract import SECRET_NAME_PATTERN
from dsr.errors import (
    ConfigurationError,
    DsrError,
    InvalidRequestError,
    PermanentError,
    SecretNotFoundError,
    TransientError,
)

SECRET_NAME_FIELD = "account.trainingKeySecret"  # noqa: S105 - a JSON path
SECRET_VERSION_FIELD = "account.secretVersion"  # noqa: S105 - a JSON path
SECRET_VERSION_PATTERN = re.compile(r"^[0-9a-fA-F]{32}$")
"""Key Vault version ids are 32 hex digits."""

DEFAULT_VALUE_TTL_SECONDS = 3600.0
DEFAULT_VERSION_TTL_SECONDS = 30.0
DEFAULT_CACHE_ENTRIES = 256
_TRANSIENT_STATUSES = frozenset({408, 429})
_SERVER_ERROR_MIN = 500
_FORBIDDEN = 403
_DISABLED_CODE = "SecretDisabled"


class SecretStoreUnavailableError(TransientError):
    """Key Vault could not be reached or asked us to back off (429, 5xx, timeouts, resets)."""

    def __init__(self, secret_name: str, reason: str) -> None:
        super().__init__(f"Key Vault unavailable while reading secret {secret_name!r}: {reason}")
        self.secret_name = secret_name
        self.reason = reason


class SecretAccessDeniedError(PermanentError):
    """The app's identity could not authenticate to Key Vault or may not read the secret."""

    def __init__(self, secret_name: str, reason: str) -> None:
        super().__init__(f"access to secret {secret_name!r} was refused: {reason}")
        self.secret_name = secret_name
        self.reason = reason


class SecretStoreRequestError(PermanentError):
    """Key Vault rejected the request for another reason (a 4xx other than the ones above)."""

    def __init__(self, secret_name: str, reason: str) -> None:
        super().__init__(f"Key Vault rejected the request for secret {secret_name!r}: {reason}")
        self.secret_name = secret_name
        self.reason = reason


class SecretStore(Protocol):
    """Where activities get account keys from."""

    def resolve_version(self, name: str) -> str:
        """The id of the secret's current version (what orchestrators pass on, with the name)."""
        ...

    def get_secret(self, name: str, version: str) -> str:
        """The value of one pinned version."""
        ...


def validate_secret_name(name: str) -> None:
    """Raise :class:`InvalidRequestError` unless ``name`` is a valid Key Vault secret name."""
    if not isinstance(name, str) or not SECRET_NAME_PATTERN.fullmatch(name):
        raise InvalidRequestError(
            SECRET_NAME_FIELD, "must be a Key Vault secret name: 1-127 characters of 0-9, a-z, A-Z and -"
        )


def validate_secret_version(version: str) -> None:
    """Raise :class:`InvalidRequestError` unless ``version`` is a Key Vault version id (32 hex digits)."""
    if not isinstance(version, str) or not SECRET_VERSION_PATTERN.fullmatch(version):
        raise InvalidRequestError(
            SECRET_VERSION_FIELD, "must be a Key Vault secret version id (32 hex digits)"
        )


K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small thread-safe LRU cache whose entries expire ``ttl_seconds`` after they were stored."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = DEFAULT_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The live entry for ``key``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if expires_at <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Store ``value``; the least recently used entry goes when the cache is full."""
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()


def _error_code(exc: HttpResponseError) -> str:
    error = exc.error
    return str(getattr(error, "code", "") or "") if error is not None else ""


def _is_disabled(exc: HttpResponseError) -> bool:
    error = exc.error
    inner = getattr(error, "innererror", None) if error is not None else None
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    return inner_code == _DISABLED_CODE or _error_code(exc) == _DISABLED_CODE


def _translate(name: str, exc: AzureError | ValueError) -> DsrError:
    """Map an Azure SDK error to the project's tree, using only status and error code in messages."""
    if isinstance(exc, ResourceNotFoundError):
        return SecretNotFoundError(name)
    if isinstance(exc, ClientAuthenticationError):
        detail = f"HTTP {exc.status_code}" if exc.status_code else "no token"
        return SecretAccessDeniedError(name, f"authentication failed ({detail})")
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        reason = f"HTTP {status} {_error_code(exc)}".rstrip()
        if status == _FORBIDDEN:
            return SecretNotFoundError(name) if _is_disabled(exc) else SecretAccessDeniedError(name, reason)
        if status in _TRANSIENT_STATUSES or status >= _SERVER_ERROR_MIN:
            return SecretStoreUnavailableError(name, reason)
        return SecretStoreRequestError(name, reason)
    if isinstance(exc, ValueError):
        # The SDK refuses a challenge whose resource does not match the vault host.
        return ConfigurationError(f"Key Vault client rejected the vault's challenge for secret {name!r}")
    # Connection failures, timeouts and resets (ServiceRequestError, ServiceResponseError, ...).
    return SecretStoreUnavailableError(name, type(exc).__name__)


class KeyVaultSecretStore:
    """:class:`SecretStore` on azure-keyvault-secrets, with an in-process TTL cache."""

    def __init__(
        self,
        vault_url: str,
        credential: TokenCredential,
        *,
        verify_challenge_resource: bool = True,
        connection_verify: str | bool = True,
        value_ttl_seconds: float = DEFAULT_VALUE_TTL_SECONDS,
        version_ttl_seconds: float = DEFAULT_VERSION_TTL_SECONDS,
        retry_total: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # retry_total=None keeps the SDK's retry policy; callers with their own retries may lower it.
        retry = {} if retry_total is None else {"retry_total": retry_total}
        self._client = SecretClient(
            vault_url,
            credential,
            verify_challenge_resource=verify_challenge_resource,
            connection_verify=connection_verify,
            **retry,
        )
        self._values: TtlCache[tuple[str, str], str] = TtlCache(value_ttl_seconds, clock=clock)
        self._versions: TtlCache[str, str] = TtlCache(version_ttl_seconds, clock=clock)

    def resolve_version(self, name: str) -> str:
        """The current version id of ``name`` (cached briefly); its value is cached on the way."""
        validate_secret_name(name)
        key = name.lower()
        cached = self._versions.get(key)
        if cached is not None:
            return cached
        try:
            secret = self._client.get_secret(name)
        except (AzureError, ValueError) as exc:
            raise _translate(name, exc) from exc
        version = secret.properties.version
        if not version or secret.value is None:
            raise SecretNotFoundError(name)
        version = version.lower()
        self._versions.put(key, version)
        self._values.put((key, version), secret.value)
        return version

    def get_secret(self, name: str, version: str) -> str:
        """The value of ``name`` at ``version`` (cached long: a version's value never changes)."""
        validate_secret_name(name)
        validate_secret_version(version)
        key = (name.lower(), version.lower())
        cached = self._values.get(key)
        if cached is not None:
            return cached
        try:
            secret = self._client.get_secret(name, version)
        except (AzureError, ValueError) as exc:
            raise _translate(name, exc) from exc
        if secret.value is None:
            raise SecretNotFoundError(name)
        self._values.put(key, secret.value)
        return secret.value

    def clear_cache(self) -> None:
        """Forget every cached version and value."""
        self._values.clear()
        self._versions.clear()

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()


@lru_cache(maxsize=1)
def default_credential() -> DefaultAzureCredential:
    """The process's one credential: managed identity in Azure, the devstack token endpoint locally."""
    return DefaultAzureCredential()


def build_secret_store(settings: Settings) -> SecretStore:
    """The Key Vault secret store the settings describe (build once per process; it holds the cache)."""
    return KeyVaultSecretStore(
        settings.key_vault_url,
        default_credential(),
        verify_challenge_resource=settings.key_vault_verify_challenge_resource,
        connection_verify=settings.key_vault_ca_bundle or True,
    )
