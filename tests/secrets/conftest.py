"""One Key Vault stand-in per test session (real process, temp data dir, ephemeral ports)."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

import pytest

from devstack.environment import local_environment
from devstack.layout import StackLayout
from devstack.manager import ServiceManager
from devstack.services import SERVICES

# Variables that would send azure-identity down another managed-identity path.
_FOREIGN_IDENTITY_VARS = (
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def kv_layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackLayout]:
    env = {
        "DSR_LOCAL_DIR": str(tmp_path_factory.mktemp("kv-local")),
        "DSR_KEYVAULT_PORT": str(_free_port()),
        "DSR_KEYVAULT_TOKEN_PORT": str(_free_port()),
        "DSR_DEVSTACK_START_TIMEOUT": "20",
    }
    layout = StackLayout.from_env(env)
    manager = ServiceManager(layout, out=io.StringIO())
    keyvault = SERVICES["keyvault"]
    manager.start_one(keyvault)
    try:
        yield layout
    finally:
        manager.stop_one(keyvault)


@pytest.fixture
def identity_env(kv_layout: StackLayout, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The process environment a Functions worker has locally: App Service managed identity."""
    for name in _FOREIGN_IDENTITY_VARS:
        monkeypatch.delenv(name, raising=False)
    env = local_environment(kv_layout)
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_TOKEN_CREDENTIALS"):
        monkeypatch.setenv(name, env[name])
    return env
