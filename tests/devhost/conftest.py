"""Fixtures: a real devhost serving tests/devhost/apps/core in a background thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devhost.host import BackgroundHost, Host
from tests.devhost.devhost_client import APPS, FUNCTION_KEY, MASTER_KEY, SYSTEM_KEY, Client


@pytest.fixture(scope="session")
def core_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    host = Host(
        APPS / "core",
        port=0,
        rpc_port=0,
        state_dir=tmp_path_factory.mktemp("core-state"),
        function_key=FUNCTION_KEY,
        system_key=SYSTEM_KEY,
        master_key=MASTER_KEY,
        fast_timers=False,
    )
    with BackgroundHost(host):
        yield host


@pytest.fixture(scope="session")
def client(core_host: Host) -> Client:
    return Client(core_host.url)
