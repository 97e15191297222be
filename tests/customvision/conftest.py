"""Fixtures for this folder; also makes the repo root importable when pytest runs from the venv script."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# `.venv/bin/pytest` does not put the working directory on sys.path (pyproject sets no pythonpath).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import pytest  # noqa: E402

from dsr.customvision import CallRecorder, ClientOptions, EndpointAllowList, TrainingClient  # noqa: E402
from emulator import EmulatorServer, EmulatorState, SeedSpec, build_state  # noqa: E402

SPEC = SeedSpec(accounts=2, projects_per_account=2, images_per_project=40, predictions_per_project=30)


@pytest.fixture
def keys():
    return {"account-1": secrets.token_hex(16), "account-2": secrets.token_hex(16)}


@pytest.fixture
def state(keys) -> EmulatorState:
    return build_state(SPEC, keys)


@pytest.fixture
def server(state):
    with EmulatorServer(state) as running:
        yield running


@pytest.fixture
def recorder() -> CallRecorder:
    """The call hook every client of a test reports to (the client itself keeps no record)."""
    return CallRecorder()


@pytest.fixture
def make_client(server, keys, recorder):
    """Build clients against the emulator; unlimited client-side rate unless a test asks for one."""
    made = []

    def make(key=None, **options):
        options.setdefault("hooks", (recorder,))
        options.setdefault("rate_limit_per_second", None)
        options.setdefault("max_retry_seconds", 10.0)
        options.setdefault("timeout_seconds", 5.0)
        allow = EndpointAllowList(extra_origins=(server.base_url,))
        client = TrainingClient(server.base_url, key or keys["account-1"], ClientOptions(**options), allow)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()
