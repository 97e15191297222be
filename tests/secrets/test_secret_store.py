"""dsr.secrets.KeyVaultSecretStore against the running stand-in: versions, cache, error mapping, no leaks."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable, Iterator

import pytest
import requests
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

from devstack.layout import StackLayout
from dsr.config import load_settings
from dsr.errors import (
    ConfigurationError,
    DsrError,
    InvalidRequestError,
    PermanentError,
    SecretNotFoundError,
    TransientError,
)
from dsr.secrets import (
    DEFAULT_VALUE_TTL_SECONDS,
    DEFAULT_VERSION_TTL_SECONDS,
    KeyVaultSecretStore,
    SecretAccessDeniedError,
    SecretStoreUnavailableError,
    build_secret_store,
    default_credential,
)


class FakeClock:
    """Monotonic time the test moves by hand (the cache's only dependency on time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def writer(kv_layout: StackLayout, identity_env: dict[str, str]) -> Iterator[SecretClient]:
    with SecretClient(
        kv_layout.vault_url,
        DefaultAzureCredential(),
        verify_challenge_resource=False,
        connection_verify=str(kv_layout.ca_bundle),
    ) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(
    kv_layout: StackLayout, identity_env: dict[str, str], clock: FakeClock
) -> Iterator[KeyVaultSecretStore]:
    secret_store = KeyVaultSecretStore(
        kv_layout.vault_url,
        DefaultAzureCredential(),
        verify_challenge_resource=False,
        connection_verify=str(kv_layout.ca_bundle),
        retry_total=0,
        clock=clock,
    )
    yield secret_store
    secret_store.close()


@pytest.fixture
def faults(identity_env: dict[str, str]) -> Iterator[Callable[[int, int], None]]:
    url = identity_env["IDENTITY_ENDPOINT"].replace("/metadata/identity/oauth2/token", "/devstack/faults")
    headers = {"X-IDENTITY-HEADER": identity_env["IDENTITY_HEADER"]}

    def inject(status: int, count: int) -> None:
        body = {"status": status, "count": count, "retryAfter": 0}
        assert requests.post(url, json=body, headers=headers, timeout=5).status_code == 200

    yield inject
    requests.post(url, json={"status": 0, "count": 0}, headers=headers, timeout=5)


def _name() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def _texts(exc: BaseException) -> str:
    """str and repr of an exception and everything chained to it."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def test_resolve_version_then_get_pinned_value(writer: SecretClient, store: KeyVaultSecretStore) -> None:
    name = _name()
    first = writer.set_secret(name, "key-one")
    version = store.resolve_version(name)
    assert version == first.properties.version
    assert store.get_secret(name, version) == "key-one"


def test_version_cached_briefly_value_cached_long(
    writer: SecretClient, store: KeyVaultSecretStore, clock: FakeClock
) -> None:
    name = _name()
    old = writer.set_secret(name, "key-old").properties.version
    assert store.resolve_version(name) == old

    new = writer.set_secret(name, "key-new").properties.version
    assert store.resolve_version(name) == old  # still within the short version TTL
    clock.now += DEFAULT_VERSION_TTL_SECONDS + 1
    assert store.resolve_version(name) == new

    # Once read, a pinned value is served from the cache even if the vault stops serving it...
    assert old is not None
    assert store.get_secret(name, old) == "key-old"
    writer.update_secret_properties(name, old, enabled=False)
    assert store.get_secret(name, old) == "key-old"
    # ...until its (long) TTL runs out.
    clock.now += DEFAULT_VALUE_TTL_SECONDS + 1
    with pytest.raises(SecretNotFoundError):
        store.get_secret(name, old)


def test_missing_secret_and_version_map_to_not_found(
    writer: SecretClient, store: KeyVaultSecretStore
) -> None:
    name = _name()
    with pytest.raises(SecretNotFoundError) as missing:
        store.resolve_version(name)
    assert missing.value.secret_name == name
    assert isinstance(missing.value.__cause__, Exception)

    writer.set_secret(name, "x")
    with pytest.raises(SecretNotFoundError):
        store.get_secret(name, uuid.uuid4().hex)


def test_disabled_secret_maps_to_not_found(writer: SecretClient, store: KeyVaultSecretStore) -> None:
    name = _name()
    version = writer.set_secret(name, "x").properties.version
    writer.update_secret_properties(name, version, enabled=False)
    with pytest.raises(SecretNotFoundError):
        store.resolve_version(name)


@pytest.mark.parametrize("bad", ["", "has_underscore", "a" * 128, "a/b", "../etc", "ümlaut", "a b"])
def test_invalid_names_rejected_before_any_call(store: KeyVaultSecretStore, bad: str) -> None:
    with pytest.raises(InvalidRequestError) as invalid:
        store.resolve_version(bad)
    assert invalid.value.field == "account.trainingKeySecret"
    with pytest.raises(InvalidRequestError) as invalid_pinned:
        store.get_secret(bad, uuid.uuid4().hex)
    assert invalid_pinned.value.field == "account.trainingKeySecret"


def test_longest_valid_name_is_accepted(writer: SecretClient, store: KeyVaultSecretStore) -> None:
    name = "A-" + "b" * 125
    writer.set_secret(name, "x")
    assert len(store.resolve_version(name)) == 32


@pytest.mark.parametrize("bad", ["", "latest", "0" * 31, "g" * 32])
def test_invalid_versions_rejected(store: KeyVaultSecretStore, bad: str) -> None:
    with pytest.raises(InvalidRequestError):
        store.get_secret("some-name", bad)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_transient(
    writer: SecretClient, store: KeyVaultSecretStore, faults: Callable[[int, int], None], status: int
) -> None:
    name = _name()
    writer.set_secret(name, "x")
    faults(status, 1)
    with pytest.raises(SecretStoreUnavailableError) as unavailable:
        store.resolve_version(name)
    assert isinstance(unavailable.value, TransientError)
    assert str(status) in str(unavailable.value)
    assert unavailable.value.__cause__ is not None


def test_unreachable_vault_is_transient(kv_layout: StackLayout, identity_env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    store = KeyVaultSecretStore(
        f"https://localhost:{closed_port}",
        DefaultAzureCredential(),
        verify_challenge_resource=False,
        connection_verify=str(kv_layout.ca_bundle),
        retry_total=0,
    )
    with pytest.raises(SecretStoreUnavailableError):
        store.resolve_version("anything")


def test_refused_identity_is_permanent(
    kv_layout: StackLayout, identity_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "wrong-header")
    store = KeyVaultSecretStore(
        kv_layout.vault_url,
        DefaultAzureCredential(),
        verify_challenge_resource=False,
        connection_verify=str(kv_layout.ca_bundle),
        retry_total=0,
    )
    with pytest.raises(SecretAccessDeniedError) as denied:
        store.resolve_version("anything")
    assert isinstance(denied.value, PermanentError)


def test_challenge_check_on_by_default_is_a_configuration_error(
    kv_layout: StackLayout, identity_env: dict[str, str]
) -> None:
    store = KeyVaultSecretStore(
        kv_layout.vault_url, DefaultAzureCredential(), connection_verify=str(kv_layout.ca_bundle)
    )
    with pytest.raises(ConfigurationError):
        store.resolve_version("anything")


def test_value_never_in_errors_or_logs(
    writer: SecretClient,
    store: KeyVaultSecretStore,
    faults: Callable[[int, int], None],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    value = f"training-key-{uuid.uuid4().hex}"
    name = _name()
    version = writer.set_secret(name, value).properties.version
    assert version is not None
    caplog.clear()

    assert store.get_secret(name, version) == value
    errors: list[DsrError] = []
    clock.now += DEFAULT_VALUE_TTL_SECONDS + 1
    faults(503, 1)  # the store does not retry (retry_total=0): exactly its one request fails
    with pytest.raises(SecretStoreUnavailableError) as unavailable:
        store.get_secret(name, version)
    errors.append(unavailable.value)
    writer.update_secret_properties(name, version, enabled=False)
    with pytest.raises(SecretNotFoundError) as disabled:
        store.get_secret(name, version)
    errors.append(disabled.value)

    assert caplog.records  # the SDKs really logged at DEBUG
    assert value not in caplog.text
    for error in errors:
        assert value not in _texts(error)


def test_build_secret_store_from_local_settings(writer: SecretClient, identity_env: dict[str, str]) -> None:
    name = _name()
    version = writer.set_secret(name, "from-settings").properties.version
    default_credential.cache_clear()
    try:
        store = build_secret_store(load_settings(identity_env))
        assert store.resolve_version(name) == version
        assert store.get_secret(name, store.resolve_version(name)) == "from-settings"
    finally:
        default_credential.cache_clear()
