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


def _unit_lines(host: HostProcess, what: str) -> Counter[str]:
    """Per instance, how many run_unit log lines match ``what`` ("Executing" or "Executed")."""
    pattern = re.compile(rf"\[instance (\d+)\] {what} 'Functions\.run_unit'")
    lines = host.log_path.read_text(errors="replace").splitlines()
    return Counter(m.group(1) for line in lines if (m := pattern.search(line)))


def _busy_instance(host: HostProcess) -> int | None:
    started, finished = _unit_lines(host, "Executing"), _unit_lines(host, "Executed")
    busy = [int(k) for k in started if started[k] > finished[k]]
    return busy[0] if busy else None


def test_requests_finish_when_an_instance_dies_mid_flight(stack, scaled_host):
    assert scaled_host.ready_instances() == INSTANCES
    controls = stack.account("export").controls
    controls.knobs.latency_seconds = 0.05  # units last long enough to be caught running
    try:
        bodies = [stack.body("export", operation="export") for _ in range(3)]
        for body in bodies:
            assert scaled_host.submit(body).status_code == 202
        deadline = time.monotonic() + 60
        while (victim := _busy_instance(scaled_host)) is None:
            assert time.monotonic() < deadline, "no unit ran"
            time.sleep(0.05)
        # Like a lost Azure instance: the unit it was running runs again on another instance.
        killed = scaled_host.kill_instance(victim)
        documents = [_wait(scaled_host, body["requestId"]) for body in bodies]
    finally:
        controls.knobs.latency_seconds = 0.0
    assert [d.status_code for d in documents] == [200, 200, 200]
    assert all(d.json()["state"] == "succeeded" for d in documents)
    # The same export three times: identical counts, however the units were spread and re-run.
    counts = [{c: e.get("counts") for c, e in d.json()["categories"].items()} for d in documents]
    assert counts[0] == counts[1] == counts[2]
    started, finished = _unit_lines(scaled_host, "Executing"), _unit_lines(scaled_host, "Executed")
    assert started[str(victim)] > finished[str(victim)]  # it died with a unit in flight: a redelivery
    assert len(finished) >= 2  # work ran on more than one instance
    assert killed not in scaled_host.instance_pids()  # the supervisor replaced the lost instance
