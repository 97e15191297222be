"""Session fixtures: the reliability harness (emulator, vault secrets, container), one host that
the kill tests kill and restart, and the clean runs every other run is compared with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import HostProcess
from tests.reliability.harness import Reliability
from tests.reliability.scenarios import Reference, clean_delete, clean_export


@pytest.fixture(scope="session")
def rel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reliability]:
    with Reliability(tmp_path_factory.mktemp("reliability")) as harness:
        yield harness


@pytest.fixture(scope="session")
def host(rel: Reliability) -> HostProcess:
    return rel.host()


@pytest.fixture(scope="session")
def clean_export_run(rel: Reliability, host: HostProcess) -> Reference:
    return clean_export(rel, host)


@pytest.fixture(scope="session")
def clean_delete_run(rel: Reliability, host: HostProcess) -> Reference:
    return clean_delete(rel, host)
