"""host.json functionTimeout as Azure enforces it: the slow call fails, the worker's other calls with it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devhost.host import BackgroundHost, Host
from tests.devhost.devhost_client import APPS, Client


@pytest.fixture(scope="module")
def timeout_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    host = Host(APPS / "timeout", port=0, rpc_port=0, state_dir=Path(tmp_path_factory.mktemp("timeout")))
    with BackgroundHost(host):
        yield host


def test_activity_past_function_timeout_fails_and_restarts_the_worker(timeout_host: Host) -> None:
    client = Client(timeout_host.url)
    start = timeout_host.url + "/api/start/"
    slow = requests.post(start + "slow", json={}, timeout=10)
    time.sleep(0.5)  # the bystander starts later, so the slow call's deadline passes first
    beside = requests.post(start + "beside", json={"key": uuid.uuid4().hex}, timeout=10)
    assert slow.status_code == beside.status_code == 202
    slow_status = client.wait(slow.json()["statusQueryGetUri"], timeout=30)
    assert slow_status["output"] == (
        "Activity function 'too_slow' failed: Timeout value of 00:00:02 was exceeded by function:"
        " Functions.too_slow"
    )
    # The bystander's first attempt died with the worker; like an abandoned work item it ran again.
    assert client.wait(beside.json()["statusQueryGetUri"], timeout=30)["output"] == "attempt 2"
    assert timeout_host._invoker is not None
    assert timeout_host._invoker.restarts == 1
