"""Fixtures for the app's tests: the real local services started by scripts/test.sh."""

from __future__ import annotations

import os
import uuid

import pytest

from dsr.storage import BlobExportStore


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests with ./scripts/test.sh, which starts the local stack")
    return value


@pytest.fixture(scope="session")
def storage_connection() -> str:
    return required_env("DSR_STORAGE_CONNECTION")


@pytest.fixture
def export_store(storage_connection: str) -> BlobExportStore:
    return BlobExportStore.from_connection(storage_connection, f"test-{uuid.uuid4().hex[:12]}")
