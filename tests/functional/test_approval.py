"""Two approvers deciding at once: the one who loses always hears which decision was recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from dsr import layout
from dsr.errors import RequestConflictError
from dsr.status import initial_document, progress
from dsr.storage import put_json
from dsr.times import format_time
from dsr.wire import ApprovalDecision
from tests.functional.fakes import MemoryStore
from tests.functional.test_status_view import StuckClient, parsed_request
from triggers.approval import approve

FIRST: ApprovalDecision = {"by": "dpo-a", "decision": "approve", "comment": None, "principal": None}
SECOND: ApprovalDecision = {"by": "dpo-b", "decision": "reject", "comment": None, "principal": None}


class DecidedMeanwhile(StuckClient):
    """The first approver's decision is recorded, and the run moves on, while the second looks."""

    def __init__(self, store: MemoryStore, stored_input: dict, custom_status: object) -> None:
        super().__init__(stored_input, custom_status)
        self._store = store

    async def get_status(self, instance_id: str, show_input: bool = False):
        put_json(self._store, layout.approval("r1"), FIRST)
        return await super().get_status(instance_id, show_input)


def test_a_decision_recorded_while_the_second_approver_looked_is_named():
    request = parsed_request("delete", ["tags"])
    received = datetime(2026, 1, 1, tzinfo=UTC)
    running = initial_document(request, received, "running")  # past the gate: the first decision won
    store = MemoryStore()
    client = DecidedMeanwhile(
        store, {"request": request, "receivedAt": format_time(received)}, progress(running)
    )
    with pytest.raises(RequestConflictError) as refused:
        asyncio.run(approve(client, "r1", SECOND, store))
    assert "approve by dpo-a" in str(refused.value)
