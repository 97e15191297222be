"""A throwaway stack layout per test: temp local directory and ephemeral ports."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.layout import PORT_SETTINGS, StackLayout
from devstack.manager import ServiceManager
from devstack.services import SERVICES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a devstack that cannot collide with the developer's (nor another test's)."""
    env = {var: str(free_port()) for var, _ in PORT_SETTINGS.values()}
    env["DSR_LOCAL_DIR"] = str(tmp_path / "local")
    env["DSR_DEVSTACK_START_TIMEOUT"] = "20"
    env["DSR_DEVSTACK_STOP_TIMEOUT"] = "5"
    return env


@pytest.fixture
def layout(stack_env: dict[str, str]) -> StackLayout:
    return StackLayout.from_env(stack_env)


@pytest.fixture
def manager(layout: StackLayout) -> Iterator[ServiceManager]:
    out = io.StringIO()
    service_manager = ServiceManager(layout, out=out, err=out)
    yield service_manager
    service_manager.stop(list(SERVICES.values()))
