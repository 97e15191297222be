"""kill -9 the host (a subprocess) mid-orchestration; a restart on the same state dir finishes the work."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.devhost.devhost_client import APPS, Client

REPO = Path(__file__).resolve().parents[2]
READY_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def host_process(state_dir: Path, port: int, rpc_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Start `python -m devhost start` and wait for /admin/host/status; kill it on exit."""
    command = [
        sys.executable,
        "-m",
        "devhost",
        "start",
        "--app-dir",
        str(APPS / "core"),
        "--port",
        str(port),
        "--rpc-port",
        str(rpc_port),
        "--state-dir",
        str(state_dir),
        "--log-level",
        "WARNING",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVHOST_")}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if requests.get(f"http://127.0.0.1:{port}/admin/host/status", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("devhost subprocess did not become ready")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def test_kill_9_mid_orchestration_then_restart_completes(tmp_path: Path) -> None:
    port, rpc_port = _free_port(), _free_port()
    instance_id = "crash-resume-1"
    with host_process(tmp_path, port, rpc_port) as process:
        client = Client(f"http://127.0.0.1:{port}")
        url = client.start("slow_steps", {"n": 8}, instance_id).json()["statusQueryGetUri"]
        client.wait_for(url, lambda s: (s.get("customStatus") or {}).get("done", 0) >= 3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    status_before = None
    with host_process(tmp_path, port, rpc_port):
        client = Client(f"http://127.0.0.1:{port}")
        status_url = f"http://127.0.0.1:{port}/runtime/webhooks/durabletask/instances/{instance_id}"
        status_before = client.session.get(status_url, timeout=5).json()
        status = client.wait(status_url)
    assert 3 <= status_before["customStatus"]["done"] < 8
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == sum(i * i for i in range(8))
    assert status["customStatus"] == {"done": 8}
