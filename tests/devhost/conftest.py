"""Fixtures: a real devhost serving tests/devhost/apps/core in a background thread."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devhost.host import BackgroundHost, Host
from tests.devhost.devhost_client import APPS, FUNCTION_KEY, MASTER_KEY, SYSTEM_KEY, Client

HOST_KEY_VARIABLES = ("DEVHOST_FUNCTION_KEY", "DEVHOST_SYSTEM_KEY", "DEVHOST_MASTER_KEY")


@pytest.fixture(scope="session", autouse=True)
def _keys_only_where_a_test_sets_them() -> Iterator[None]:
    # scripts/test.sh exports the local stack's host keys; these tests choose keys per host.
    saved = {name: os.environ.pop(name) for name in HOST_KEY_VARIABLES if name in os.environ}
    yield
    os.environ.update(saved)


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
