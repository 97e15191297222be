"""Session fixtures: one emulator with several seeded accounts (one per scenario, since deletes
change them), their keys stored in the Key Vault stand-in, and the function app on devhost."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient
from azure.storage.blob import ContainerClient
from azure.storage.queue import QueueClient

from dsr.config import load_settings
from emulator.seed import SeedSpec, account_name, build_state
from emulator.server import EmulatorServer
from emulator.state import EmulatorState
from tests.e2e.stack import ExportFolder, HostProcess, environment

SCENARIOS = (
    "export",
    "subject-export",
    "delete-all",
    "delete-project",
    "delete-subject",
    "dry-run",
    "crash",
    "approval",
    "faults",
    "projects-only",
    "cancel",
    "retry",
    "cli",
    "cancel-in-flight",
    "reverify",
    "progress",
    "delete-progress",
)
SPEC = SeedSpec(
    accounts=len(SCENARIOS),
    projects_per_account=2,
    images_per_project=24,
    tags_per_project=3,
    iterations_per_project=2,
    predictions_per_project=6,
    subjects=3,
)


class Stack:
    """What a test needs: the emulator state, account keys and secret names, the host, the blobs."""

    def __init__(
        self, state: EmulatorState, emulator: EmulatorServer, keys: dict[str, str], run_id: str
    ) -> None:
        self.state = state
        self.emulator = emulator
        self.keys = keys
        self.run_id = run_id
        self.container_name = f"e2e-{run_id}"
        self.records_container_name = f"e2e-{run_id}-records"
        self.queue_name = f"e2e-{run_id}"  # not dsr-requests: a developer's running app may poll that
        self.host: HostProcess | None = None

    def account(self, scenario: str):
        return self.state.account(account_name(SCENARIOS.index(scenario)))

    def secret_name(self, scenario: str) -> str:
        return f"e2e-{self.run_id}-{scenario}"

    def body(self, scenario: str, **fields) -> dict:
        return {
            "requestId": f"{scenario}-{uuid.uuid4().hex[:8]}",
            "account": {"endpoint": self.emulator.base_url, "trainingKeySecret": self.secret_name(scenario)},
            **fields,
        }

    def folder(self, request_id: str) -> ExportFolder:
        settings = load_settings()
        container = ContainerClient.from_connection_string(settings.storage_connection, self.container_name)
        return ExportFolder(container, request_id)

    def records(self, request_id: str) -> ExportFolder:
        """The request's receipts and status document (the records container)."""
        settings = load_settings()
        container = ContainerClient.from_connection_string(
            settings.storage_connection, self.records_container_name
        )
        return ExportFolder(container, request_id)

    def host_env(self, **extra: str) -> dict[str, str]:
        return environment(
            {
                "DSR_ALLOWED_ENDPOINT_ORIGINS": self.emulator.base_url,
                "DSR_EXPORT_CONTAINER": self.container_name,
                "DSR_RECORDS_CONTAINER": self.records_container_name,
                "DSR_REQUEST_QUEUE": self.queue_name,
                "DSR_DELETE_VERIFY_TIMEOUT_SECONDS": "30",
                "DSR_CV_RATE_LIMIT_PER_SECOND": "200",
                # An app setting overriding host.json, as in Azure: idle queue polling backs off to
                # 1 s instead of the default minute, so queue tests do not wait out the backoff.
                "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:01",
                **extra,
            }
        )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = load_settings()  # fails loudly unless scripts/test.sh exported the local stack
    keys = {account_name(i): secrets.token_hex(16) for i in range(len(SCENARIOS))}
    state = build_state(SPEC, keys)
    run_id = uuid.uuid4().hex[:10]
    with EmulatorServer(state) as emulator:
        stack = Stack(state, emulator, keys, run_id)
        vault = SecretClient(
            settings.key_vault_url,
            DefaultAzureCredential(),
            verify_challenge_resource=settings.key_vault_verify_challenge_resource,
            connection_verify=settings.key_vault_ca_bundle or True,
        )
        for index, scenario in enumerate(SCENARIOS):
            vault.set_secret(stack.secret_name(scenario), keys[account_name(index)])
        # The Functions host does not create a trigger's queue: whoever deploys the app does.
        with QueueClient.from_connection_string(settings.storage_connection, stack.queue_name) as queue:
            queue.create_queue()
        root = tmp_path_factory.mktemp("host")
        host = HostProcess(
            env=stack.host_env(),
            state_dir=root / "state",
            log_path=root / "host.log",
            function_key=secrets.token_urlsafe(24),
        )
        stack.host = host.start()
        try:
            yield stack
        finally:
            host.stop()


@pytest.fixture(scope="session")
def host(stack: Stack) -> HostProcess:
    assert stack.host is not None
    return stack.host


@pytest.fixture
def host_settings() -> dict[str, str]:
    """Extra app settings for ``fresh_host``; tests override this fixture or fill it in."""
    return {}


@pytest.fixture
def fresh_host(stack: Stack, tmp_path: Path, host_settings: dict[str, str]) -> Iterator[HostProcess]:
    """A host of the test's own (own state, ports and settings), for tests that crash or configure it."""
    process = HostProcess(
        env=stack.host_env(**host_settings),
        state_dir=tmp_path / "state",
        log_path=tmp_path / "host.log",
        function_key=secrets.token_urlsafe(24),
    )
    try:
        yield process.start()
    finally:
        process.stop()
