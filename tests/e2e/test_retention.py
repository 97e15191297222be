"""Retention and tamper evidence end to end, on devhost with the app's real timer trigger.

A host of the test's own runs the retention timer every 2 s with a retention period of ~17 s and a
history purge delay of ~4 s, on an export container of its own (the other tests' exports are safe).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from azure.storage.blob import ContainerClient

from dsr.chain import verify_chain
from dsr.config import load_settings
from dsr.record_store import RecordStore
from tests.e2e.stack import ExportFolder
from tests.e2e.test_approval_and_failures import wait_for_state

pytestmark = [pytest.mark.services, pytest.mark.slow]

RETENTION_DAYS = 0.0002  # 17.28 s
EXPIRY_WAIT_SECONDS = 90
CONTAINER = f"e2e-retention-{uuid.uuid4().hex[:8]}"


SETTINGS = {
    "DSR_EXPORT_CONTAINER": CONTAINER,
    "DSR_EXPORT_RETENTION_DAYS": str(RETENTION_DAYS),
    "DSR_RETENTION_SCHEDULE": "*/2 * * * * *",
    "DSR_HISTORY_PURGE_AFTER_HOURS": "0.001",  # 3.6 s
}


@pytest.fixture
def host_settings() -> dict[str, str]:
    return dict(SETTINGS)


def export_folder(request_id: str) -> ExportFolder:
    connection = load_settings().storage_connection
    return ExportFolder(ContainerClient.from_connection_string(connection, CONTAINER), request_id)


def test_expired_export_is_gone_and_its_status_document_says_when_and_why(stack, fresh_host):
    body = stack.body("export", operation="export", categories=["tags", "projects"])
    assert fresh_host.submit(body).status_code == 202
    finished = fresh_host.wait(body["requestId"])
    assert finished.status_code == 200, finished.text
    document = finished.json()
    assert document["retention"]["days"] == RETENTION_DAYS
    assert document["retention"]["expiresAt"] >= document["receivedAt"]
    assert document["retention"]["expired"] is None
    files = export_folder(body["requestId"]).names()
    assert f"{body['requestId']}/export/manifest.json" in files

    # Each file expires by its own creation time (the manifest is written last), like the lifecycle rule.
    deadline = time.monotonic() + EXPIRY_WAIT_SECONDS
    while True:
        current = fresh_host.status(body["requestId"])
        assert current.status_code == 200, current.text
        expired = current.json()["retention"]["expired"]
        if expired is not None and expired["filesDeleted"] == len(files):
            break
        assert time.monotonic() < deadline, f"the retention timer never expired the export: {expired}"
        time.sleep(1)
    assert export_folder(body["requestId"]).names() == []
    assert expired["at"] >= document["retention"]["expiresAt"]
    assert "DSR_EXPORT_RETENTION_DAYS" in expired["reason"]
    # The record stays, and GET answers from it: the Durable history is purged by the same timer.
    stored = stack.records(body["requestId"]).json(f"{body['requestId']}/status.json")
    assert stored == current.json()
    instance = requests.get(
        f"http://127.0.0.1:{fresh_host.rpc_port}/durabletask/instances/dsr-{body['requestId']}", timeout=10
    )
    assert instance.status_code == 404
    assert {k: v for k, v in stored.items() if k != "retention"} == {
        k: v for k, v in document.items() if k != "retention"
    }


def test_delete_receipts_are_chained_and_a_tampered_one_is_reported(stack, fresh_host):
    body = stack.body("dry-run", operation="delete", dryRun=True, categories=["tags", "projects"])
    assert fresh_host.submit(body).status_code == 202
    finished = fresh_host.wait(body["requestId"])
    assert finished.status_code == 200, finished.text
    refs = [
        ref
        for entry in finished.json()["categories"].values()
        for ref in (entry["receipt"] or {}).get("files", [])
    ]
    assert refs
    folder = stack.records(body["requestId"])
    chained = [folder.json(ref["path"])["chain"] for ref in refs]
    sequences = [link["sequence"] for link in chained]
    assert sequences == list(range(sequences[0], sequences[0] + len(refs)))

    records = RecordStore.from_connection(load_settings().storage_connection, stack.records_container_name)
    assert verify_chain(records, stack.emulator.base_url).ok
    victim = refs[0]["path"]
    original = folder.read(victim)
    altered = json.loads(original)
    altered["targeted"]["count"] += 1
    folder.container.upload_blob(victim, json.dumps(altered).encode(), overwrite=True)
    try:
        report = verify_chain(records, stack.emulator.base_url)
        assert report.first_break is not None
        assert (report.first_break.path, report.first_break.sequence) == (victim, sequences[0])
    finally:
        folder.container.upload_blob(victim, original, overwrite=True)
    assert verify_chain(records, stack.emulator.base_url).ok


@pytest.mark.parametrize("host_settings", [{**SETTINGS, "DSR_APPROVAL_REQUIRED": "true"}])
def test_a_terminated_request_keeps_answering_after_its_history_is_purged(stack, fresh_host):
    body = stack.body("approval", operation="delete", categories=["tags"])
    assert fresh_host.submit(body).status_code == 202
    wait_for_state(fresh_host, body["requestId"], "awaiting_approval")
    rpc = f"http://127.0.0.1:{fresh_host.rpc_port}/durabletask/instances/dsr-{body['requestId']}"
    assert requests.post(f"{rpc}/terminate?reason=operator", timeout=10).status_code == 202
    canceled = wait_for_state(fresh_host, body["requestId"], "canceled")
    # No activity wrote a status document for it; the purge writes the one GET answered, then purges.
    deadline = time.monotonic() + EXPIRY_WAIT_SECONDS
    while requests.get(rpc, timeout=10).status_code != 404:
        assert time.monotonic() < deadline, "the history of the terminated request was never purged"
        time.sleep(1)
    after = fresh_host.status(body["requestId"])
    assert after.status_code == 409
    assert after.json() == canceled
    assert stack.records(body["requestId"]).json(f"{body['requestId']}/status.json") == canceled
