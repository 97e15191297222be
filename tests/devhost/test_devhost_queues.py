"""Queue triggers against Azurite, as the WebJobs queue extension runs them.

Messages are sent both the way ``azure-storage-queue``'s QueueClient sends by default (the text as it
is, no encode policy) and base64-encoded as host.json's ``messageEncoding: base64`` expects.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from devhost import queues
from devhost.host import BackgroundHost, Host
from tests.devhost.devhost_client import APPS, Client

pytestmark = pytest.mark.services

OK_QUEUE = "devhost-test-start"
FAIL_QUEUE = "devhost-test-fail"
SLOW_QUEUE = "devhost-test-slow"  # declared as DEVHOST-TEST-SLOW
MISSING_QUEUE = "devhost-test-missing"
PLAIN_QUEUE = "devhost-test-plain"
WAIT_SECONDS = 20.0


def _connection() -> str:
    value = os.environ.get("AzureWebJobsStorage")  # noqa: SIM112 - the Functions setting name
    if not value:
        pytest.fail("AzureWebJobsStorage is not set (start Azurite with scripts/test.sh)")
    return value


def _queue(name: str) -> QueueClient:
    return QueueClient.from_connection_string(_connection(), name)


def _fresh_queue(name: str) -> QueueClient:
    queue = _queue(name)
    try:
        queue.create_queue()
    except ResourceExistsError:
        queue.clear_messages()
    return queue


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _eventually(check: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def queue_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    # The host creates no trigger queue (Azure does not either): the senders' side makes them.
    for name in (OK_QUEUE, FAIL_QUEUE, FAIL_QUEUE + "-poison", OK_QUEUE + "-poison", SLOW_QUEUE):
        _fresh_queue(name)
    with contextlib.suppress(ResourceNotFoundError):
        _queue(MISSING_QUEUE).delete_queue()
    host = Host(APPS / "queues", port=0, rpc_port=0, state_dir=Path(tmp_path_factory.mktemp("queue-state")))
    with BackgroundHost(host):
        yield host


def test_base64_message_starts_orchestration_and_is_deleted(queue_host: Host) -> None:
    instance_id = f"q-{uuid.uuid4().hex[:8]}"
    _queue(OK_QUEUE).send_message(_b64(json.dumps({"id": instance_id, "value": 21})))
    client = Client(queue_host.url)
    url = queue_host.url + "/runtime/webhooks/durabletask/instances/" + instance_id
    _eventually(lambda: requests.get(url, timeout=5).status_code != 404, "orchestration never started")
    assert client.wait(url)["output"] == {"id": instance_id, "doubled": 42}
    _eventually(
        lambda: _queue(OK_QUEUE).get_queue_properties().approximate_message_count == 0,
        "processed message was not deleted",
    )


def test_plain_text_message_goes_to_poison_without_running_under_base64(queue_host: Host) -> None:
    # What QueueClient.send_message sends by default: the JSON text itself, which is not base64.
    instance_id = f"plain-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"id": instance_id, "value": 5})
    _queue(OK_QUEUE).send_message(body)
    poison = _queue(OK_QUEUE + "-poison")
    contents = _eventually(
        lambda: [m.content for m in poison.peek_messages(max_messages=32) if m.content == body],
        "plain-text message never reached the poison queue",
    )
    assert contents == [body]
    url = queue_host.url + "/runtime/webhooks/durabletask/instances/" + instance_id
    assert requests.get(url, timeout=5).status_code == 404  # the function never ran


def test_failing_message_moves_to_poison_after_max_dequeue_count(queue_host: Host) -> None:
    body = f"bad-{uuid.uuid4().hex[:8]}"
    _queue(FAIL_QUEUE).send_message(_b64(body))
    poison = _queue(FAIL_QUEUE + "-poison")
    contents = _eventually(
        lambda: [m.content for m in poison.peek_messages(max_messages=32)],
        "message never reached the poison queue",
    )
    assert base64.b64decode(contents[0]).decode() == body
    attempts = [
        a for a in requests.get(queue_host.url + "/api/attempts", timeout=5).json() if a["body"] == body
    ]
    assert [a["dequeue_count"] for a in attempts] == [1, 2]
    assert _queue(FAIL_QUEUE).get_queue_properties().approximate_message_count == 0


def test_new_batch_is_fetched_at_new_batch_threshold_and_names_are_lowercased(queue_host: Host) -> None:
    # batchSize 4, newBatchThreshold 2: when two of the first four are done, the next four are
    # fetched although two still run, so up to 4 + 2 run at once, never more.
    queue = _queue(SLOW_QUEUE)
    for seconds in (0.2, 0.2, 1.2, 1.2, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6):
        queue.send_message(_b64(json.dumps({"seconds": seconds})))
    stats = _eventually(
        lambda: (s := requests.get(queue_host.url + "/api/slow", timeout=5).json())["done"] >= 10 and s,
        "slow messages were not all processed",
    )
    assert 4 < stats["peak"] <= 6


def test_listener_does_not_create_its_queue(queue_host: Host) -> None:
    time.sleep(0.5)  # several polls of the missing queue
    with pytest.raises(ResourceNotFoundError):
        _queue(MISSING_QUEUE).get_queue_properties()


def test_encoding_none_passes_the_text_as_it_is(tmp_path: Path) -> None:
    _fresh_queue(PLAIN_QUEUE)
    host = Host(APPS / "queues_plain", port=0, rpc_port=0, state_dir=tmp_path)
    with BackgroundHost(host):
        plain, encoded = f"plain {uuid.uuid4().hex}", _b64("looks like base64")
        _queue(PLAIN_QUEUE).send_message(plain)
        _queue(PLAIN_QUEUE).send_message(encoded)
        bodies = _eventually(
            lambda: (b := requests.get(host.url + "/api/bodies", timeout=5).json()) and len(b) >= 2 and b,
            "plain messages were not processed",
        )
    assert sorted(bodies) == sorted([plain, encoded])  # no decoding under "none"


def test_visibility_is_renewed_while_a_message_is_processed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scaled down from 10 minutes renewed every 5: without renewal the message would reappear after
    # 1 s and be delivered a second time while the first call still runs.
    monkeypatch.setattr(queues, "PROCESSING_VISIBILITY_SECONDS", 1)
    monkeypatch.setattr(queues, "RENEW_EVERY_SECONDS", 0.3)
    _fresh_queue(SLOW_QUEUE)
    host = Host(APPS / "queues", port=0, rpc_port=0, state_dir=tmp_path)
    with BackgroundHost(host):
        before = requests.get(host.url + "/api/slow", timeout=5).json()
        _queue(SLOW_QUEUE).send_message(_b64(json.dumps({"seconds": 2.5})))
        stats = _eventually(
            lambda: (
                (s := requests.get(host.url + "/api/slow", timeout=5).json())["done"] > before["done"] and s
            ),
            "slow message was not processed",
        )
    assert stats["dequeue_counts"][len(before["dequeue_counts"]) :] == [1]
