"""A cancel whose request stops after the cancel has answered: the canceled document, with the
receipts of what its delete units did, is kept all the same, before anything reads or purges it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import azure.durable_functions as df

from dsr import layout
from dsr.attempts import retry_input
from dsr.chain import verify_chain
from dsr.erasure import run_delete_unit
from dsr.record_store import RecordConflictError, RecordStore, Versioned
from dsr.status import finish, initial_document, progress, start_attempt
from dsr.storage import JSON_CONTENT_TYPE, StoredFileNotFoundError, get_json, put_json
from dsr.wire import RequestInput
from tests.functional.conftest import World, unit
from tests.functional.fakes import MemoryStore
from tests.functional.test_erasure_journal import _big_project
from triggers import request_control
from triggers.history import purge_finished_histories
from triggers.settlement import read_settled_status

REQUEST_ID = "functional-1"
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryRecords(MemoryStore):
    """The records container's compare-and-swap writes, in memory."""

    def read(self, path: str) -> Versioned | None:
        try:
            data = self.get_bytes(path)
        except StoredFileNotFoundError:
            return None
        return Versioned(data, hashlib.sha256(data).hexdigest())

    def exists(self, path: str) -> bool:
        return self.read(path) is not None

    def replace(self, path: str, data: bytes, etag: str | None) -> None:
        current = self.read(path)
        if (current.etag if current else None) != etag:
            raise RecordConflictError(path)
        self.put_bytes(path, data, JSON_CONTENT_TYPE)


def _records() -> RecordStore:
    return cast(RecordStore, MemoryRecords())  # the same calls; RecordStore is a class, not a protocol


class SlowToStop:
    """One request's instance that takes its termination only when the test says so."""

    def __init__(self, stored: RequestInput) -> None:
        self.stored = stored
        self.runtime_status = df.OrchestrationRuntimeStatus.Running
        self.reason: str | None = None
        self.purged: list[str] = []

    def stop(self) -> None:
        self.runtime_status = df.OrchestrationRuntimeStatus.Terminated

    async def get_status(self, instance_id: str, show_input: bool = False) -> Any:
        return SimpleNamespace(
            instance_id=instance_id,
            runtime_status=None if self.purged else self.runtime_status,
            input_=json.dumps(self.stored),
            custom_status=progress(start_attempt(self.stored)),
            output=self.reason if self.runtime_status == df.OrchestrationRuntimeStatus.Terminated else None,
            last_updated_time=LONG_AGO,
        )

    async def terminate(self, instance_id: str, reason: str) -> None:
        self.reason = reason  # taken later: the instance is busy

    async def get_status_by(self, **_: Any) -> list[Any]:
        if self.purged or self.runtime_status != df.OrchestrationRuntimeStatus.Terminated:
            return []
        return [await self.get_status(f"dsr-{REQUEST_ID}")]

    async def purge_instance_history(self, instance_id: str) -> None:
        self.purged.append(instance_id)


def _deleting(world: World) -> tuple[RequestInput, str]:
    """A delete request whose images unit of one project has deleted a batch, then paused."""
    pid = _big_project(world)
    job = world.job("delete")
    assert run_delete_unit(job, unit("images", pid), world.runtime(unit_time_budget_seconds=0.0))["next"]
    request = {
        "requestId": REQUEST_ID,
        "operation": "delete",
        "account": {**job["account"]},
        "categories": ["images"],
        "projectIds": [pid],
        "subject": None,
        "dryRun": False,
        "zip": False,
        "callbackUrl": None,
        "extension": None,
        "callbackFile": None,
        "callbackHost": None,
        "fingerprint": "0" * 64,
    }
    return {"request": request, "receivedAt": "2026-01-01T00:00:00Z"}, pid  # type: ignore[typeddict-item]


def _cancel_that_answers_first(world: World, client: SlowToStop, records: RecordStore, monkeypatch) -> None:
    monkeypatch.setattr(request_control, "CANCEL_WAIT_SECONDS", 0.0)
    view = asyncio.run(request_control.cancel(client, REQUEST_ID, "ops", None, world.store, records))
    assert view.running  # 202: poll for the document
    client.stop()


def test_the_first_poll_after_a_slow_stop_keeps_the_canceled_document_with_its_receipts(
    world: World, monkeypatch
):
    # Before: the cancel answered 202 and nothing wrote the paused unit's receipt, sealed it or kept
    # the document: every poll showed the images without a receipt, though a batch was deleted.
    stored, pid = _deleting(world)
    client, records = SlowToStop(stored), _records()
    _cancel_that_answers_first(world, client, records, monkeypatch)
    view = asyncio.run(read_settled_status(client, REQUEST_ID, world.store, records))
    assert view.document["state"] == "canceled"
    receipt_entry = view.document["categories"]["images"]["receipt"]
    assert receipt_entry is not None
    files = receipt_entry["files"]
    assert [f["path"] for f in files] == [layout.stopped_receipt(REQUEST_ID, "images", pid)]
    receipt = get_json(world.store, files[0]["path"])
    assert receipt["deleted"]["count"] == 256
    assert get_json(records, layout.status(REQUEST_ID))["state"] == "canceled"
    report = verify_chain(records, stored["request"]["account"]["endpoint"])
    assert (report.ok, report.length) == (True, 1)
    again = asyncio.run(read_settled_status(client, REQUEST_ID, world.store, records))
    assert again.document == get_json(records, layout.status(REQUEST_ID))  # kept once, then read


def test_a_retry_canceled_after_its_answer_is_kept_before_its_history_is_purged(world: World, monkeypatch):
    # Before: the purge found attempt 1's status document and purged attempt 2's history, so the
    # canceled attempt and the receipt of what it deleted were lost from the record.
    stored, _ = _deleting(world)
    first = initial_document(stored["request"], LONG_AGO, "running")
    first["categories"]["images"]["state"] = "failed"
    first = finish(first, LONG_AGO)
    records = _records()
    put_json(records, layout.status(REQUEST_ID), first)
    client = SlowToStop(retry_input(stored, first, "2026-01-01T01:00:00Z"))
    _cancel_that_answers_first(world, client, records, monkeypatch)
    purged = asyncio.run(purge_finished_histories(client, world.store, records, LONG_AGO + timedelta(days=1)))
    assert purged == 1
    kept = get_json(records, layout.status(REQUEST_ID))
    assert kept["state"] == "canceled"
    assert len(kept["attempts"]) == 1
    assert kept["categories"]["images"]["receipt"]["files"]
