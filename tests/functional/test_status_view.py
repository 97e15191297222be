"""What GET answers while an orchestration is stuck finishing: its progress says why, not just 202."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from dsr.contract import DsrRequest, parse_request
from dsr.status import initial_document, progress
from dsr.times import format_time
from tests.functional.fakes import MemoryStore
from triggers.status_view import read_status


class StuckClient:
    """A Durable client whose one instance is still Running with the given custom status."""

    def __init__(self, stored_input: dict, custom_status: object) -> None:
        self._status = DurableOrchestrationStatus(
            name="dsr_request",
            instanceId="dsr-r1",
            runtimeStatus="Running",
            input=stored_input,
            customStatus=custom_status,
            createdTime=format_time(datetime.now(UTC)),
            lastUpdatedTime=format_time(datetime.now(UTC)),
        )

    async def get_status(self, instance_id: str, show_input: bool = False) -> DurableOrchestrationStatus:
        return self._status


def parsed_request(operation: str, categories: list[str]) -> DsrRequest:
    """Request ``r1`` of one category, as intake hands it on."""
    return parse_request(
        {
            "requestId": "r1",
            "operation": operation,
            "account": {"endpoint": "https://a.cognitiveservices.azure.com", "trainingKeySecret": "cv-key"},
            "categories": categories,
        }
    )


def test_a_failed_resolution_still_being_written_shows_its_error():
    request = parsed_request("export", ["projects"])
    received = datetime(2026, 1, 1, tzinfo=UTC)
    document = initial_document(request, received, "failed")
    document["categories"]["projects"]["state"] = "skipped"
    document["error"] = "SecretStoreUnavailableError: Key Vault unavailable while reading secret 'cv-key'"
    client = StuckClient({"request": request, "receivedAt": format_time(received)}, progress(document))
    view = asyncio.run(read_status(client, "r1", MemoryStore()))
    assert view.running
    assert view.document["state"] == "running"  # the status file is still being written
    assert view.document["error"] == document["error"]
