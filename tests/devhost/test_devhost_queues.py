"""Queue triggers against Azurite: success path with a durable starter, and the poison path."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from devhost.host import BackgroundHost, Host
from tests.devhost.devhost_client import APPS, Client

pytestmark = pytest.mark.services

OK_QUEUE = "devhost-test-start"
FAIL_QUEUE = "devhost-test-fail"
WAIT_SECONDS = 20.0


def _connection() -> str:
    value = os.environ.get("AzureWebJobsStorage")  # noqa: SIM112 - the Functions setting name
    if not value:
        pytest.fail("AzureWebJobsStorage is not set (start Azurite with scripts/test.sh)")
    return value


def _fresh_queue(conn: str, name: str) -> QueueClient:
    queue = QueueClient.from_connection_string(conn, name)
    try:
        queue.create_queue()
    except ResourceExistsError:
        queue.clear_messages()
    return queue


@pytest.fixture(scope="module")
def queue_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    conn = _connection()
    for name in (OK_QUEUE, FAIL_QUEUE, FAIL_QUEUE + "-poison"):
        _fresh_queue(conn, name)
    host = Host(APPS / "queues", port=0, rpc_port=0, state_dir=Path(tmp_path_factory.mktemp("queue-state")))
    with BackgroundHost(host):
        yield host


def test_queue_message_starts_orchestration_and_is_deleted(queue_host: Host) -> None:
    conn = _connection()
    queue = QueueClient.from_connection_string(conn, OK_QUEUE)
    base64_id, plain_id = f"q-{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    queue.send_message(base64.b64encode(json.dumps({"id": base64_id, "value": 21}).encode()).decode())
    queue.send_message(json.dumps({"id": plain_id, "value": 5}))
    client = Client(queue_host.url)
    webhook = queue_host.url + "/runtime/webhooks/durabletask/instances/"
    for instance_id, doubled in ((base64_id, 42), (plain_id, 10)):
        deadline = time.monotonic() + WAIT_SECONDS
        while requests.get(webhook + instance_id, timeout=5).status_code == 404:
            assert time.monotonic() < deadline, f"orchestration {instance_id} was never started"
            time.sleep(0.05)
        assert client.wait(webhook + instance_id)["output"] == {"id": instance_id, "doubled": doubled}
    deadline = time.monotonic() + WAIT_SECONDS
    while queue.get_queue_properties().approximate_message_count:
        assert time.monotonic() < deadline, "processed messages were not deleted"
        time.sleep(0.05)


def test_failing_message_moves_to_poison_after_max_dequeue_count(queue_host: Host) -> None:
    conn = _connection()
    body = f"bad-{uuid.uuid4().hex[:8]}"
    QueueClient.from_connection_string(conn, FAIL_QUEUE).send_message(
        base64.b64encode(body.encode()).decode()
    )
    poison = QueueClient.from_connection_string(conn, FAIL_QUEUE + "-poison")
    deadline = time.monotonic() + WAIT_SECONDS
    contents: list[str] = []
    while not contents:
        assert time.monotonic() < deadline, "message never reached the poison queue"
        contents = [m.content for m in poison.peek_messages(max_messages=32)]
        time.sleep(0.05)
    assert base64.b64decode(contents[0]).decode() == body
    attempts = [
        a for a in requests.get(queue_host.url + "/api/attempts", timeout=5).json() if a["body"] == body
    ]
    assert [a["dequeue_count"] for a in attempts] == [1, 2]
    assert (
        QueueClient.from_connection_string(conn, FAIL_QUEUE).get_queue_properties().approximate_message_count
        == 0
    )
