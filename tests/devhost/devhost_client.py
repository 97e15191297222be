"""HTTP helpers shared by the devhost tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

APPS = Path(__file__).parent / "apps"
FUNCTION_KEY = "test-key-123"
SYSTEM_KEY = "test-durabletask-extension-key"
MASTER_KEY = "test-master-key"
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.02


class Client:
    """Thin HTTP helper around a running host."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.session = requests.Session()

    def start(self, name: str, payload: Any = None, instance_id: str | None = None) -> requests.Response:
        path = f"/api/start/{name}" + (f"/{instance_id}" if instance_id else "")
        return self.session.post(self.base + path, json=payload, timeout=10)

    def run(self, name: str, payload: Any = None, instance_id: str | None = None) -> dict[str, Any]:
        response = self.start(name, payload, instance_id)
        assert response.status_code == 202, response.text
        return self.wait(response.json()["statusQueryGetUri"])

    def wait(self, status_url: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """Poll a statusQueryGetUri until the instance is no longer running; bounded by ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.session.get(status_url, timeout=10)
            if response.status_code != 202:
                body: dict[str, Any] = response.json()
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"still running after {timeout}s: {response.json()}")
            time.sleep(POLL_SECONDS)

    def wait_for(self, status_url: str, predicate: Any, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """Poll the status until ``predicate(status)`` holds; bounded by ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.session.get(status_url, timeout=10).json()
            if predicate(status):
                return dict(status)
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not reached after {timeout}s: {status}")
            time.sleep(POLL_SECONDS)

    def manage(self, instance_id: str, op: str, method: str = "GET", **kwargs: Any) -> requests.Response:
        params = {"code": FUNCTION_KEY, **kwargs.pop("params", {})}
        return self.session.request(
            method, f"{self.base}/api/manage/{instance_id}/{op}", params=params, timeout=10, **kwargs
        )
