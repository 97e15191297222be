"""The Key Vault stand-in driven by the real azure-keyvault-secrets + azure-identity, over verified TLS."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import requests
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

from devstack.keyvault.__main__ import SIGNING_KEY_FILE
from devstack.keyvault.tokens import TokenAuthority
from devstack.layout import StackLayout

VERSION = re.compile(r"^[0-9a-f]{32}$")
VAULT_RESOURCE = "https://vault.azure.net"


def _name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(kv_layout: StackLayout, identity_env: dict[str, str]) -> Iterator[SecretClient]:
    credential = DefaultAzureCredential()
    with SecretClient(
        kv_layout.vault_url,
        credential,
        verify_challenge_resource=False,
        connection_verify=str(kv_layout.ca_bundle),
    ) as secret_client:
        yield secret_client


def _token(kv_layout: StackLayout, identity_env: dict[str, str], resource: str = VAULT_RESOURCE) -> str:
    response = requests.get(
        identity_env["IDENTITY_ENDPOINT"],
        params={"api-version": "2019-08-01", "resource": resource},
        headers={"X-IDENTITY-HEADER": identity_env["IDENTITY_HEADER"]},
        timeout=5,
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


def _vault_get(
    kv_layout: StackLayout, path: str, token: str | None = None, **params: str
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        f"{kv_layout.vault_url}{path}",
        params={"api-version": "7.4", **params},
        headers=headers,
        verify=str(kv_layout.ca_bundle),
        timeout=5,
    )


def test_set_and_get_latest_and_pinned_versions(client: SecretClient, kv_layout: StackLayout) -> None:
    name = _name()
    first = client.set_secret(name, "value-one", content_type="text/plain", tags={"owner": "tests"})
    second = client.set_secret(name, "value-two")

    assert first.id == f"{kv_layout.vault_url}/secrets/{name}/{first.properties.version}"
    assert VERSION.match(first.properties.version or "")
    assert first.properties.version != second.properties.version
    assert first.properties.enabled is True
    assert first.properties.created_on is not None
    assert first.properties.recovery_level == "Recoverable+Purgeable"
    assert first.properties.content_type == "text/plain"
    assert first.properties.tags == {"owner": "tests"}

    assert client.get_secret(name).value == "value-two"
    assert client.get_secret(name, first.properties.version).value == "value-one"
    versions = {p.version for p in client.list_properties_of_secret_versions(name)}
    assert versions == {first.properties.version, second.properties.version}


def test_list_is_paged_with_next_link(
    client: SecretClient, kv_layout: StackLayout, identity_env: dict[str, str]
) -> None:
    prefix = _name("page")
    names = {f"{prefix}-{i}" for i in range(5)}
    for name in names:
        client.set_secret(name, "x")
    listed = {p.name for p in client.list_properties_of_secrets()}
    assert names <= listed

    token = _token(kv_layout, identity_env)
    page = _vault_get(kv_layout, "/secrets", token, maxresults="2").json()
    assert len(page["value"]) == 2
    assert page["nextLink"].startswith(f"{kv_layout.vault_url}/secrets?")
    assert all("value" not in item and item["id"].count("/secrets/") == 1 for item in page["value"])
    seen = [item["id"] for item in page["value"]]
    while page["nextLink"]:
        page = requests.get(
            page["nextLink"],
            headers={"Authorization": f"Bearer {token}"},
            verify=str(kv_layout.ca_bundle),
            timeout=5,
        ).json()
        seen += [item["id"] for item in page["value"]]
    assert len(seen) == len(set(seen)) == len(listed)


def test_missing_secret_and_version_are_404(client: SecretClient) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_secret(_name("missing"))
    assert missing.value.error is not None
    assert missing.value.error.code == "SecretNotFound"

    name = _name()
    client.set_secret(name, "x")
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name, uuid.uuid4().hex)


def test_disabled_version_is_forbidden(client: SecretClient) -> None:
    name = _name()
    secret = client.set_secret(name, "x")
    client.update_secret_properties(name, secret.properties.version, enabled=False)
    with pytest.raises(HttpResponseError) as refused:
        client.get_secret(name, secret.properties.version)
    assert refused.value.status_code == 403
    assert refused.value.error is not None
    assert refused.value.error.innererror == {"code": "SecretDisabled"}


def test_soft_delete_recover_and_purge(client: SecretClient) -> None:
    name = _name()
    client.set_secret(name, "x")
    deleted = client.begin_delete_secret(name, _polling_interval=0.05).result()
    assert deleted.recovery_id is not None
    assert deleted.recovery_id.endswith(f"/deletedsecrets/{name}")
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)
    assert name in {d.name for d in client.list_deleted_secrets()}
    with pytest.raises(ResourceExistsError):
        client.set_secret(name, "y")

    client.begin_recover_deleted_secret(name, _polling_interval=0.05).wait()
    assert client.get_secret(name).value == "x"

    client.begin_delete_secret(name, _polling_interval=0.05).wait()
    client.purge_deleted_secret(name)
    assert client.set_secret(name, "again").value == "again"


def test_request_without_token_gets_key_vault_challenge(kv_layout: StackLayout) -> None:
    response = _vault_get(kv_layout, "/secrets")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert re.fullmatch(
        r'Bearer authorization="https://login\.microsoftonline\.com/[0-9a-f-]{36}", '
        r'resource="https://vault\.azure\.net"',
        challenge,
    )
    assert response.json()["error"]["code"] == "Unauthorized"


def test_only_valid_issued_tokens_are_accepted(kv_layout: StackLayout, identity_env: dict[str, str]) -> None:
    good = _token(kv_layout, identity_env)
    assert _vault_get(kv_layout, "/secrets", good).status_code == 200

    authority = TokenAuthority((kv_layout.keyvault_dir / SIGNING_KEY_FILE).read_bytes())
    expired = authority.issue(VAULT_RESOURCE, lifetime_seconds=-5).token
    other_audience = _token(kv_layout, identity_env, resource="https://storage.azure.com")
    forged = TokenAuthority(b"k" * 32).issue(VAULT_RESOURCE).token
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for bad in (expired, other_audience, forged, tampered, "not-a-token"):
        response = _vault_get(kv_layout, "/secrets", bad)
        assert response.status_code == 401, bad
        assert "WWW-Authenticate" in response.headers


def test_token_endpoint_speaks_app_service_protocol(
    kv_layout: StackLayout, identity_env: dict[str, str]
) -> None:
    url = identity_env["IDENTITY_ENDPOINT"]
    params = {"api-version": "2019-08-01", "resource": VAULT_RESOURCE}
    ok = requests.get(
        url, params=params, headers={"X-IDENTITY-HEADER": identity_env["IDENTITY_HEADER"]}, timeout=5
    )
    body = ok.json()
    assert ok.status_code == 200
    assert set(body) >= {"access_token", "expires_on", "resource", "token_type"}
    assert body["token_type"] == "Bearer"
    assert body["resource"] == VAULT_RESOURCE
    assert int(body["expires_on"]) > 0

    wrong = requests.get(url, params=params, headers={"X-IDENTITY-HEADER": "wrong"}, timeout=5)
    assert wrong.status_code == 401
    assert requests.get(url, params=params, timeout=5).status_code == 400
    bad_version = requests.get(
        url,
        params={**params, "api-version": "2017-09-01"},
        headers={"X-IDENTITY-HEADER": identity_env["IDENTITY_HEADER"]},
        timeout=5,
    )
    assert bad_version.status_code == 400


def test_managed_identity_with_wrong_header_cannot_read(
    kv_layout: StackLayout, identity_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    credential = ManagedIdentityCredential()
    with (
        SecretClient(
            kv_layout.vault_url,
            credential,
            verify_challenge_resource=False,
            connection_verify=str(kv_layout.ca_bundle),
        ) as secret_client,
        pytest.raises(ClientAuthenticationError),
    ):
        secret_client.get_secret("anything")


def test_tls_is_verified_against_the_local_ca(kv_layout: StackLayout, identity_env: dict[str, str]) -> None:
    # Without the stand-in's CA the system trust store must reject the certificate.
    with (
        SecretClient(
            kv_layout.vault_url, DefaultAzureCredential(), verify_challenge_resource=False, retry_total=0
        ) as untrusting,
        pytest.raises(ServiceRequestError),
    ):
        untrusting.get_secret("anything")


def test_challenge_resource_check_stays_on_by_default(
    kv_layout: StackLayout, identity_env: dict[str, str]
) -> None:
    # The stand-in is not *.vault.azure.net, so only an explicit opt-out may talk to it.
    with (
        SecretClient(
            kv_layout.vault_url, DefaultAzureCredential(), connection_verify=str(kv_layout.ca_bundle)
        ) as strict,
        pytest.raises(ValueError, match="verify_challenge_resource"),
    ):
        strict.get_secret("anything")


def test_server_log_holds_no_values_or_tokens(
    client: SecretClient, kv_layout: StackLayout, identity_env: dict[str, str]
) -> None:
    value = f"value-{uuid.uuid4().hex}"
    client.set_secret(_name(), value)
    token = _token(kv_layout, identity_env)
    _vault_get(kv_layout, "/secrets", token)
    log = kv_layout.log_file("keyvault").read_text(encoding="utf-8")
    assert "PUT /secrets/" in log  # the log is really being written
    assert value not in log
    assert token not in log
    assert identity_env["IDENTITY_HEADER"] not in log
