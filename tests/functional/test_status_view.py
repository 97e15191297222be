"""What GET answers while an orchestration is stuck finishing: its progress says why, not just 202."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from dsr import layout
from dsr.attempts import retry_input
from dsr.contract import DsrRequest, parse_request
from dsr.status import current_attempt, finish, from_durable, initial_document, progress, start_attempt
from dsr.storage import put_json
from dsr.times import format_time
from dsr.wire import ApprovalSettings, RequestInput, StatusDocument
from tests.functional.fakes import MemoryStore
from triggers.status_view import read_status


class StuckClient:
    """A Durable client whose one instance is still Running with the given custom status."""

    def __init__(self, stored_input: Mapping[str, object], custom_status: object) -> None:
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


def finished_request(owner_token: str) -> tuple[RequestInput, MemoryStore, StatusDocument]:
    """Request ``r1`` finished by the run holding ``owner_token``: its input, records and final document."""
    request = parsed_request("delete", ["tags"])
    received = datetime(2026, 1, 1, tzinfo=UTC)
    recorded = finish(initial_document(request, received), received, "succeeded")
    records = MemoryStore()
    put_json(records, layout.status("r1"), recorded)
    put_json(records, layout.run_ticket("r1", 1), {"attempt": 1, "token": owner_token})
    stored: RequestInput = {"request": request, "receivedAt": format_time(received), "approval": NO_APPROVAL}
    return stored, records, recorded


NO_APPROVAL: ApprovalSettings = {"required": False, "timeoutHours": 72}


def test_a_duplicate_start_replacing_a_finished_request_answers_the_recorded_document():
    # A second identical submission whose start lands after the first run finished replaces the
    # finished instance; until its claim turns it away, Durable reports it Running. The request is
    # finished all the same: GET must not show it running again (nor let a cancel mark it canceled).
    stored, records, recorded = finished_request(owner_token="a" * 32)
    duplicate: RequestInput = {**stored, "run": {"attempt": 1, "token": "b" * 32}}
    for custom_status in (None, progress(start_attempt(duplicate))):
        view = asyncio.run(read_status(StuckClient(duplicate, custom_status), "r1", records))
        assert not view.running
        assert view.document == recorded


def test_the_run_that_owns_its_attempt_shows_running_while_it_starts():
    stored, records, _ = finished_request(owner_token="a" * 32)
    owner: RequestInput = {**stored, "run": {"attempt": 1, "token": "a" * 32}}
    view = asyncio.run(read_status(StuckClient(owner, progress(start_attempt(owner))), "r1", records))
    assert view.running
    assert view.document["state"] == "running"


def test_a_start_that_has_not_claimed_its_attempt_yet_shows_running():
    stored, records, _ = finished_request(owner_token="a" * 32)
    retry: RequestInput = {
        **stored,
        "run": {"attempt": 2, "token": "c" * 32},
    }  # attempt 2: no ticket written yet
    view = asyncio.run(read_status(StuckClient(retry, None), "r1", records))
    assert view.running


def test_a_retry_stopped_before_its_first_episode_keeps_its_earlier_attempts():
    # Before: a retry canceled while Pending (no custom status yet) showed no attempts and its carried
    # categories as pending, so the cancel marked them skipped and wrote its receipts as attempt 1.
    request = parsed_request("delete", ["images", "tags"])
    done = initial_document(request, datetime(2026, 1, 1, tzinfo=UTC), "running")
    done["categories"]["images"]["state"] = "succeeded"
    done["categories"]["tags"]["state"] = "failed"
    done = finish(done, datetime(2026, 1, 1, 1, tzinfo=UTC))
    stored: RequestInput = {
        "request": request,
        "receivedAt": "2026-01-01T00:00:00Z",
        "approval": {"required": False},
    }
    retried = retry_input(stored, done, "2026-01-02T00:00:00Z")
    seen = from_durable(retried, None, "terminated")
    assert current_attempt(seen) == 2
    assert seen["categories"]["images"]["state"] == "succeeded"  # carried, not run again
    assert seen["categories"]["tags"]["state"] == "pending"
    assert seen["state"] == "pending"
