"""The history purge and a cancel read instance lists the way the Durable client gets them: one page
of at most 100 (the Python SDK does not follow continuation tokens)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df

from tests.functional.fakes import MemoryStore
from triggers.history import purge_finished_histories
from triggers.request_control import _terminate_children

PAGE = 100
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Instance:
    instance_id: str
    runtime_status: df.OrchestrationRuntimeStatus
    last_updated_time: datetime = LONG_AGO


class PagedClient:
    """Instances in a list, answered a page at a time from the start, like get_status_by in Azure."""

    def __init__(self, instances: list[Instance]) -> None:
        self.instances = instances
        self.terminated: list[str] = []

    async def get_status_by(self, created_time_to=None, runtime_status=None, instance_id_prefix=""):
        matching = [
            i
            for i in self.instances
            if (runtime_status is None or i.runtime_status in runtime_status)
            and i.instance_id.startswith(instance_id_prefix or "")
        ]
        return matching[:PAGE]

    async def purge_instance_history(self, instance_id: str) -> None:
        self.instances = [i for i in self.instances if i.instance_id != instance_id]

    async def terminate(self, instance_id: str, reason: str) -> None:
        self.terminated.append(instance_id)
        for instance in self.instances:
            if instance.instance_id == instance_id:
                instance.runtime_status = df.OrchestrationRuntimeStatus.Terminated


class AllRecorded:
    def exists(self, path: str) -> bool:
        return True


def test_one_purge_run_purges_every_finished_request_not_only_the_first_page():
    finished = [Instance(f"dsr-r{n}:images", df.OrchestrationRuntimeStatus.Completed) for n in range(250)]
    client = PagedClient(finished)
    cutoff = LONG_AGO + timedelta(days=1)
    assert asyncio.run(purge_finished_histories(client, MemoryStore(), AllRecorded(), cutoff)) == 250  # type: ignore[arg-type]
    assert client.instances == []


def test_a_cancel_terminates_every_running_sub_orchestration_not_only_the_first_page():
    running = [Instance(f"dsr-r1:images:p{n}", df.OrchestrationRuntimeStatus.Running) for n in range(230)]
    client = PagedClient(running)
    asyncio.run(_terminate_children(client, "dsr-r1", "canceled"))
    assert sorted(client.terminated) == sorted(i.instance_id for i in running)
