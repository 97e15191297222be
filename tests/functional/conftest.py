"""The functional tier: the domain code against the in-process emulator and in-memory fakes.

No Azurite, no Key Vault, no host: each test builds a small emulated account and runs units the way
the activities do, in seconds. What needs the real host (Durable replay, HTTP, queues) is the e2e
tier's job.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dsr.categories import ALL_CATEGORIES
from dsr.config import Settings
from dsr.export import record_account_listing
from dsr.runtime import Runtime
from dsr.units import Job, Unit, UnitResult
from emulator import EmulatorServer, SeedSpec, build_state
from emulator.state import Account
from tests.functional.fakes import KeyOnlySecrets, MemoryStore

ACCOUNT = "account-1"
SPEC = SeedSpec(
    projects_per_account=2,
    images_per_project=40,
    tags_per_project=3,
    iterations_per_project=2,
    predictions_per_project=10,
    subjects=3,
)


@dataclass
class World:
    """One emulated account, its server, and a runtime that writes to a :class:`MemoryStore`."""

    account: Account
    server: EmulatorServer
    store: MemoryStore
    key: str

    def runtime(self, store: MemoryStore | None = None, **settings: float) -> Runtime:
        values = {"rate_limit_per_second": 1000.0, "delete_verify_timeout_seconds": 5.0, **settings}
        return Runtime(
            settings=Settings(
                storage_connection="memory",
                key_vault_url="https://unused.vault.azure.net",
                allowed_endpoint_origins=(self.server.base_url,),
                **values,  # type: ignore[arg-type]
            ),
            secrets=KeyOnlySecrets(self.key),
            store=store or self.store,
        )

    def job(self, operation: str, *, subject: dict[str, str] | None = None, dry_run: bool = False) -> Job:
        return {
            "requestId": "functional-1",
            "operation": operation,  # type: ignore[typeddict-item]
            "account": {
                "endpoint": self.server.base_url,
                "trainingKeySecret": "cv",
                "secretVersion": "0" * 32,
            },
            "projectIds": sorted(self.account.projects),
            "subject": None
            if subject is None
            else {
                "metadata": subject,
                "metadataKeys": sorted(subject),
                "metadataFile": None,
                "predictions": None,
            },
            "categories": [c.value for c in ALL_CATEGORIES],
            "dryRun": dry_run,
            "attempt": 1,
        }

    def subject_images(self, project_id: str, subject_id: str) -> set[str]:
        """Ids of the workspace images whose metadata names the subject: what a subject export holds."""
        images = self.account.projects[project_id].images.values()
        return {i.id for i in images if i.in_workspace and i.metadata.get("subjectId") == subject_id}

    def prepare_export(self, job: Job) -> None:
        """What resolution does for an export: list projects and iterations once, for every unit."""
        runtime = self.runtime()
        with runtime.unit_client(job["account"]) as (client, _):
            projects = client.get_projects()
            in_scope = [p.id for p in projects if p.id in job["projectIds"]]
            iterations = {pid: client.get_iterations(pid) for pid in in_scope}
            record_account_listing(job["requestId"], self.store, projects, iterations)


RUN_COUNTS = frozenset({"apiCalls", "throttled"})
"""Counts of how a unit ran (its calls, the 429s it met), beside the counts of what it did."""


def item_counts(result: UnitResult) -> dict[str, int]:
    """A unit result's counts of what it exported or deleted."""
    return {k: v for k, v in result["counts"].items() if k not in RUN_COUNTS}


def unit(category: str, project_id: str | None) -> Unit:
    return {"category": category, "projectId": project_id, "cursor": None}


@pytest.fixture
def world() -> Iterator[World]:
    key = secrets.token_hex(16)
    state = build_state(SPEC, {ACCOUNT: key})
    with EmulatorServer(state) as server:
        yield World(state.account(ACCOUNT), server, MemoryStore(), key)
