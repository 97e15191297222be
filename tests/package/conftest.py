"""Fixtures: requests run in-process against the in-process emulator and the local Azurite, a read-only
web server over the export container, and Debian's headless Chromium driven through chromium-driver."""

from __future__ import annotations

import mimetypes
import secrets
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from dsr.config import Settings, load_settings
from dsr.runtime import Runtime
from dsr.wire import StatusDocument
from emulator import EmulatorServer, build_state
from emulator.seed import PRESETS, SeedSpec
from tests.package.inprocess import run_request, runtime_for

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".local" / "artifacts" / "browser"
LARGE = SeedSpec(
    projects_per_account=2,
    images_per_project=5_000,
    iterations_per_project=0,
    predictions_per_project=0,
    subjects=4,
)
"""10,000 images: the size the browser tests must stay fast at (the other categories are covered by the
demo account; here only what the image pages show is exported)."""


@dataclass
class Scenario:
    """One emulated account, its runtime, and the status documents of the requests run against it."""

    server: EmulatorServer
    runtime: Runtime
    key: str
    documents: dict[str, Any]

    def run(self, name: str, **fields: Any) -> StatusDocument:
        self.documents[name] = run_request(self.runtime, self.server.base_url, **fields)
        return self.documents[name]

    @property
    def container(self) -> str:
        return self.runtime.settings.export_container

    @property
    def records_container(self) -> str:
        return self.runtime.settings.records_container


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()  # fails loudly unless scripts/test.sh exported the local stack


def _scenario(settings: Settings, spec: SeedSpec) -> Iterator[Scenario]:
    key = secrets.token_hex(16)
    state = build_state(spec, {"account-1": key})
    with EmulatorServer(state) as server:
        runtime = runtime_for(settings, server, key, f"pkg-{uuid.uuid4().hex[:10]}")
        yield Scenario(server, runtime, key, {})


@pytest.fixture(scope="session")
def demo(settings: Settings) -> Iterator[Scenario]:
    """The demo account (``scripts/run.sh`` seeds the same): export, subject export, dry run, delete."""
    for scenario in _scenario(settings, PRESETS["demo"]):
        scenario.run("export", operation="export", zip=True)
        scenario.run(
            "subject",
            operation="export",
            subject={"metadata": {"subjectId": "subject-001"}},
        )
        scenario.run("dry-run", operation="delete", dryRun=True)
        scenario.run("delete", operation="delete")
        yield scenario


@pytest.fixture(scope="session")
def large(settings: Settings) -> Iterator[Scenario]:
    for scenario in _scenario(settings, LARGE):
        scenario.run("export", operation="export", categories=["projects", "tags", "images"])
        yield scenario


class _BlobSite(BaseHTTPRequestHandler):
    """GET/HEAD ``/<container>/<blob path>``: the container as a browser would see a downloaded copy."""

    connection_string = ""
    clients: dict[str, ContainerClient] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, with_body: bool) -> None:
        container, _, name = unquote(urlsplit(self.path).path).lstrip("/").partition("/")
        if container not in self.clients:
            self.clients[container] = ContainerClient.from_connection_string(
                self.connection_string, container
            )
        client = self.clients[container]
        try:
            if with_body:
                downloader = client.download_blob(name)
                properties, body = downloader.properties, downloader.readall()
            else:
                properties, body = client.get_blob_client(name).get_blob_properties(), b""
        except ResourceNotFoundError:
            self.send_error(404)
            return
        content_type = properties.content_settings.content_type or mimetypes.guess_type(name)[0]
        self.send_response(200)
        self.send_header("Content-Type", content_type or "application/octet-stream")
        self.send_header("Content-Length", str(properties.size))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)


@pytest.fixture(scope="session")
def site(settings: Settings) -> Iterator[str]:
    """Base URL of a read-only web server over the local Blob Storage (``<base>/<container>/<path>``)."""
    handler = type("Site", (_BlobSite,), {"connection_string": settings.storage_connection})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's, with its matching chromium-driver), console logs captured."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("chromium and chromium-driver are missing: run ./scripts/setup.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,1600")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
