"""Several host instances on one store: work spreads over them, and losing one mid-request loses nothing."""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter

import pytest
import requests

from tests.e2e.stack import HostProcess

pytestmark = [pytest.mark.services, pytest.mark.slow]

INSTANCES = 3


@pytest.fixture
def scaled_host(stack, tmp_path):
    process = HostProcess(
        env=stack.host_env(),
        state_dir=tmp_path / "state",
        log_path=tmp_path / "host.log",
        function_key=secrets.token_urlsafe(24),
        instances=INSTANCES,
    )
    try:
        yield process.start()
    finally:
        process.stop()


def _wait(host: HostProcess, request_id: str, timeout: float = 180) -> requests.Response:
    # Connections the kernel had queued for the killed instance are reset, as a lost instance's are;
    # a poller (Logic Apps included) asks again.
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = host.status(request_id)
        except requests.ConnectionError:
            response = None
        if response is not None and response.status_code != 202:
            return response
        assert time.monotonic() < deadline, f"request {request_id} still running"
        time.sleep(0.3)


def _activities_by_instance(host: HostProcess) -> Counter[str]:
    lines = host.log_path.read_text(errors="replace").splitlines()
    return Counter(
        m.group(1)
        for line in lines
        if (m := re.search(r"\[instance (\d+)\] Executed 'Functions\.run_unit' \(Succeeded", line))
    )


def test_requests_finish_when_an_instance_dies_mid_flight(stack, scaled_host):
    assert scaled_host.ready_instances() == INSTANCES
    bodies = [stack.body("export", operation="export") for _ in range(3)]
    for body in bodies:
        assert scaled_host.submit(body).status_code == 202
    deadline = time.monotonic() + 60
    while not _activities_by_instance(scaled_host):
        assert time.monotonic() < deadline, "no unit ran"
        time.sleep(0.1)
    killed = scaled_host.kill_instance(0)  # like a lost Azure instance: what it held runs again elsewhere
    documents = [_wait(scaled_host, body["requestId"]) for body in bodies]
    assert [d.status_code for d in documents] == [200, 200, 200]
    assert all(d.json()["state"] == "succeeded" for d in documents)
    # The same export three times: identical counts, however the units were spread and re-run.
    counts = [{c: e.get("counts") for c, e in d.json()["categories"].items()} for d in documents]
    assert counts[0] == counts[1] == counts[2]
    assert len(_activities_by_instance(scaled_host)) >= 2  # work ran on more than one instance
    assert killed not in scaled_host.instance_pids()  # the supervisor replaced the lost instance
