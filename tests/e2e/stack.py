"""End-to-end harness: the real function app on devhost (a subprocess), the Custom Vision emulator,
Azurite and the Key Vault stand-in — every component talks its real protocol."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from azure.storage.blob import ContainerClient

from tests.api.openapi_contract import check_response

ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.3
READY_SECONDS = 60


def instances_from_env() -> int:
    """How many host instances the suite runs (``DSR_E2E_INSTANCES``, default 1)."""
    return int(os.environ.get("DSR_E2E_INSTANCES") or "1")


def new_key() -> str:
    return secrets.token_urlsafe(24)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class HostProcess:
    """``python -m devhost start`` serving the repository's function_app.py, keys on as in Azure.

    ``instances`` > 1 runs devhost's scale-out mode: that many host processes on one state store.
    """

    env: dict[str, str]
    state_dir: Path
    log_path: Path
    function_key: str
    system_key: str = field(default_factory=new_key)
    master_key: str = field(default_factory=new_key)
    instances: int = field(default_factory=instances_from_env)
    port: int = field(default_factory=free_port)
    rpc_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> HostProcess:
        log = self.log_path.open("ab")
        command = [sys.executable, "-m", "devhost", "start", "--app-dir", str(ROOT)]
        command += [
            "--port",
            str(self.port),
            "--rpc-port",
            str(self.rpc_port),
            "--state-dir",
            str(self.state_dir),
            "--instances",
            str(self.instances),
        ]
        env = {
            **self.env,
            "DEVHOST_FUNCTION_KEY": self.function_key,
            "DEVHOST_SYSTEM_KEY": self.system_key,
            "DEVHOST_MASTER_KEY": self.master_key,
        }
        # Its own session, so that kill() takes every instance down with the supervisor.
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"devhost exited early:\n{self.log_path.read_text()[-3000:]}")
            if self.ready_instances() >= self.instances:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"devhost did not become ready:\n{self.log_path.read_text()[-3000:]}")

    def ready_instances(self) -> int:
        """Instances registered on the shared store (0 while the host does not answer)."""
        try:
            response = requests.get(
                f"http://127.0.0.1:{self.port}/admin/host/status",
                headers={"x-functions-key": self.master_key},
                timeout=1,
            )
        except requests.ConnectionError:
            return 0
        return int(response.json()["instances"]) if response.ok else 0

    def instance_pids(self) -> list[int]:
        """Pids of the instance processes (scale-out mode only)."""
        return list(json.loads((self.state_dir / "instances.json").read_text())["instances"])

    def kill_instance(self, index: int = 0) -> int:
        """SIGKILL one instance, as when Azure loses an instance; the supervisor starts another."""
        pid = self.instance_pids()[index]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self) -> None:
        """Like a crashed worker: SIGKILL every process of the host, no clean shutdown."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    @property
    def headers(self) -> dict[str, str]:
        return {"x-functions-key": self.function_key}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call; the answer must match what triggers/openapi.json declares for it."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = requests.request(method, f"{self.api}/{path}", headers=headers, timeout=30, **kwargs)
        check_response(response)
        return response

    def submit(self, body: dict[str, Any]) -> requests.Response:
        return self.call("POST", "requests", json=body)

    def status(self, request_id: str) -> requests.Response:
        return self.call("GET", f"requests/{request_id}")

    def wait(self, request_id: str, timeout: float = 120) -> requests.Response:
        """Poll like a Logic Apps step until the answer is no longer 202."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.status(request_id)
            if response.status_code != 202:
                return response
            if time.monotonic() > deadline:
                raise AssertionError(f"request {request_id} still running: {response.text[:2000]}")
            time.sleep(POLL_SECONDS)


@dataclass
class ExportFolder:
    """The blobs a request wrote, read back from Azurite."""

    container: ContainerClient
    request_id: str

    def names(self) -> list[str]:
        return [b.name for b in self.container.list_blobs(name_starts_with=self.request_id + "/")]

    def read(self, name: str) -> bytes:
        return self.container.download_blob(name).readall()

    def json(self, name: str) -> Any:
        return json.loads(self.read(name))

    def ndjson(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.read(name).splitlines() if line.strip()]


def environment(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
