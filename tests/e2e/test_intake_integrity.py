"""Intake under races, reuse and hostile input (issue 8): the defects found by testing main, pinned."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from dsr.config import load_settings
from dsr.contract import parse_request
from dsr.records import claim
from dsr.request_index import IN_PROGRESS, index_page, mark
from dsr.storage import BlobExportStore
from tests.e2e.test_approval_and_failures import approve, wait_for_state

pytestmark = [pytest.mark.services, pytest.mark.slow]

RACERS = 8


def _purge(host, request_id: str) -> None:
    purge = requests.delete(
        f"http://127.0.0.1:{host.rpc_port}/durabletask/instances/dsr-{request_id}", timeout=10
    )
    assert purge.status_code == 200


def test_concurrent_bodies_for_one_id_run_only_the_winner_and_its_subject(stack, host):
    subjects = [f"subject-00{1 + i % 3}" for i in range(RACERS)]
    bodies = [
        stack.body("subject-export", operation="export", requestId="race-subject", categories=["images"])
        | {"subject": {"metadata": {"subjectId": subject}}}
        for subject in subjects
    ]
    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(host.submit, bodies))
    created = [i for i, r in enumerate(responses) if r.status_code == 202 and r.json()["created"]]
    assert len(created) == 1, [r.status_code for r in responses]
    winner = subjects[created[0]]
    for subject, response in zip(subjects, responses, strict=True):
        expected = {202} if subject == winner else {409}
        assert response.status_code in expected, (subject, winner, response.status_code)
    finished = host.wait("race-subject")
    assert finished.status_code == 200, finished.json()
    folder = stack.folder("race-subject")
    records = [
        r
        for name in folder.names()
        if name.endswith(".ndjson") and "/images/" in name
        for r in folder.ndjson(name)
    ]
    assert records, "the winner's images were exported"
    assert {r["metadata"]["subjectId"] for r in records} == {winner}


def test_a_used_id_stays_taken_after_the_durable_history_is_purged(stack, host):
    body = stack.body("export", operation="export", categories=["tags"])
    assert host.submit(body).status_code == 202
    finished = host.wait(body["requestId"])
    assert finished.status_code == 200
    _purge(host, body["requestId"])
    reused = host.submit({**body, "categories": ["projects"]})
    assert reused.status_code == 409
    again = host.submit(body)
    assert again.status_code == 202
    assert again.json()["created"] is False
    time.sleep(1)
    assert host.status(body["requestId"]).json() == finished.json()  # not run a second time


@pytest.mark.parametrize(("value"), ["no", "true", 1])
def test_a_destructive_switch_takes_json_booleans_only(stack, host, value):
    body = stack.body("dry-run", operation="delete", dryRun=value)
    response = host.submit(body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "dryRun"
    assert host.status(body["requestId"]).status_code == 404


def test_duplicate_keys_and_deep_nesting_are_400_not_500(stack, host):
    body = stack.body("export", operation="export")
    raw = json.dumps(body).replace('"operation": "export"', '"operation": "delete", "operation": "export"')
    for payload in (raw.encode(), b"[" * 20_000):
        response = requests.post(f"{host.api}/requests", data=payload, headers=host.headers, timeout=10)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["field"] == "body"
    deep = requests.post(
        f"{host.api}/requests/{body['requestId']}/approve",
        data=b"[" * 20_000,
        headers=host.headers,
        timeout=10,
    )
    assert deep.status_code == 400


def test_unreadable_queue_messages_are_recorded_not_poisoned(stack, host):
    settings = load_settings()
    queue = QueueClient.from_connection_string(settings.storage_connection, stack.queue_name)
    marker = "jane.doe@example.com"
    deep = queue.send_message(base64.b64encode(b"[" * 20_000).decode())
    bad_subject = stack.body("subject-export", operation="export", requestId="queued-bad-key")
    bad_subject["subject"] = {"metadata": {"user.id": marker}}
    bad = queue.send_message(base64.b64encode(json.dumps(bad_subject).encode()).decode())
    container = stack.folder("").container
    deadline = time.monotonic() + 60
    records: dict[str, dict] = {}
    while len(records) < 2:  # other tests reject into the same container: find these two messages
        assert time.monotonic() < deadline, "bad messages were not recorded"
        time.sleep(0.3)
        for blob in container.list_blobs(name_starts_with="intake/rejected/"):
            record = json.loads(container.download_blob(blob.name).readall())
            if record["messageId"] in (deep.id, bad.id):
                records[record["messageId"]] = record
    assert (records[deep.id]["field"], records[deep.id]["item"]["bytes"]) == ("body", 20_000)
    assert (records[bad.id]["field"], records[bad.id]["item"]["requestId"]) == (
        "subject.metadata",
        "queued-bad-key",
    )
    assert marker not in json.dumps(records)
    poison = QueueClient.from_connection_string(settings.storage_connection, f"{stack.queue_name}-poison")
    try:
        poisoned = poison.peek_messages()
    except ResourceNotFoundError:  # no poison queue at all: the healthy case
        poisoned = []
    assert not poisoned


@pytest.mark.parametrize("host_settings", [{"DSR_APPROVAL_REQUIRED": "true"}])
def test_concurrent_approve_and_reject_decide_once(stack, fresh_host):
    account = stack.account("approval")
    project_id = sorted(account.projects)[1]  # [0] belongs to the approval tests
    body = stack.body("approval", operation="delete", projectIds=[project_id], categories=["tags"])
    assert fresh_host.submit(body).status_code == 202
    wait_for_state(fresh_host, body["requestId"], "awaiting_approval")
    decisions = [{"by": "dpo-a", "decision": "approve"}, {"by": "dpo-b", "decision": "reject"}]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda d: approve(fresh_host, body["requestId"], d), decisions))
    assert sorted(a.status_code for a in answers) == [202, 409]
    accepted = decisions[[a.status_code for a in answers].index(202)]
    refused = answers[[a.status_code for a in answers].index(409)]
    assert accepted["decision"] in refused.json()["error"]["message"]
    document = fresh_host.wait(body["requestId"]).json()
    assert document["approval"]["decision"] == accepted["decision"]
    assert document["approval"]["by"] == accepted["by"]


def test_a_claim_whose_start_never_happened_is_started_by_the_callers_retry(stack, host):
    body = stack.body("export", operation="export", categories=["tags"])
    records = BlobExportStore(stack.records("").container)  # request records live with the records
    claim(records, parse_request(body), datetime.now(UTC))  # the winner died right after its claim
    assert host.status(body["requestId"]).status_code == 404
    retry = host.submit(body)
    assert retry.status_code == 202
    assert retry.json()["created"] is False
    assert host.wait(body["requestId"]).status_code == 200


def _instance(host, request_id: str) -> dict:
    answer = requests.get(
        f"http://127.0.0.1:{host.rpc_port}/durabletask/instances/dsr-{request_id}",
        params={"showInput": "true"},
        timeout=10,
    )
    assert answer.status_code in (200, 202), answer.text  # 202 while it runs
    return answer.json()


def _start_late_twin(host, request_id: str, token: str) -> None:
    """Start the request's instance again with its stored input and another run token, as a slow
    duplicate submit or retry does, and wait until that start has finished."""
    stored = _instance(host, request_id)["input"]
    late = json.loads(stored) if isinstance(stored, str) else stored
    late["run"] = {"attempt": late["run"]["attempt"], "token": token}
    started = requests.post(
        f"http://127.0.0.1:{host.rpc_port}/durabletask/orchestrators/dsr_request/dsr-{request_id}",
        json=late,
        timeout=10,
    )
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while _instance(host, request_id)["runtimeStatus"] != "Completed":
        assert time.monotonic() < deadline, "the second start did not finish"
        time.sleep(0.3)


def test_a_late_duplicate_start_puts_back_the_recorded_list_state(stack, host):
    # A slow second retry read the request as finished, marked its record running (as every retry
    # does before it starts), and started after the first retry had finished: its run does nothing,
    # so the record must again say how the request ended, or a state filter on the list misplaces it.
    body = stack.body("export", operation="export", requestId="late-list", categories=["tags"])
    assert host.submit(body).status_code == 202
    finished = host.wait(body["requestId"]).json()
    records = BlobExportStore(stack.records("").container)
    mark(records, "late-list", "export", IN_PROGRESS, finished["receivedAt"])
    _start_late_twin(host, "late-list", "late-list-second-start")
    entries, _ = index_page(records, 100, None)
    assert [e.state for e in entries if e.request_id == "late-list"] == [finished["state"]]


def test_a_late_identical_start_of_a_finished_request_runs_nothing(stack, host):
    # Two identical submissions: both pass the claim and find no instance; the first starts and
    # finishes before the slow second reaches start_new, and Durable replaces a finished instance
    # started again under its id (overridableExistingInstanceStates: NonRunningStates). The second
    # start is replayed here directly, with the input its own submit builds (its own run token).
    body = stack.body("subject-export", operation="export", requestId="late-twin", categories=["images"])
    body["subject"] = {"metadata": {"subjectId": "subject-001"}}
    assert host.submit(body).status_code == 202
    finished = host.wait(body["requestId"]).json()
    folder = stack.folder(body["requestId"])
    written = {b.name: b.etag for b in folder.container.list_blobs(name_starts_with="late-twin/")}
    _start_late_twin(host, body["requestId"], "late-twin-second-start")
    assert host.status(body["requestId"]).json() == finished
    again = {b.name: b.etag for b in folder.container.list_blobs(name_starts_with="late-twin/")}
    assert again == written, "the second start wrote export files again"
    records = [
        r for name in written if name.endswith(".ndjson") and "/images/" in name for r in folder.ndjson(name)
    ]
    assert records
    assert {r["metadata"]["subjectId"] for r in records} == {"subject-001"}
