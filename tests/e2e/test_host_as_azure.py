"""The app on a host as strict as Azure: which key opens what; queue messages decoded as host.json says."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from dsr.config import load_settings

pytestmark = [pytest.mark.services, pytest.mark.slow]


def _webhook(host, instance_id: str) -> str:
    return f"http://127.0.0.1:{host.port}/runtime/webhooks/durabletask/instances/{instance_id}"


def test_operator_purge_needs_the_system_key_and_reports_runtime_status_first(stack, host):
    body = stack.body("export", operation="export", categories=["tags"])
    assert host.submit(body).status_code == 202
    assert host.wait(body["requestId"]).status_code == 200
    url = _webhook(host, f"dsr-{body['requestId']}")
    # What docs/api.md tells operators: read runtimeStatus with the system key, purge only when final.
    assert requests.get(url, params={"code": host.function_key}, timeout=10).status_code == 401
    status = requests.get(url, params={"code": host.system_key}, timeout=10)
    assert status.status_code == 200
    assert status.json()["runtimeStatus"] == "Completed"
    assert requests.delete(url, params={"code": host.function_key}, timeout=10).status_code == 401
    purged = requests.delete(url, headers={"x-functions-key": host.system_key}, timeout=10)
    assert purged.status_code == 200
    assert purged.json() == {"instancesDeleted": 1}
    assert host.status(body["requestId"]).status_code == 200  # from status.json in Blob Storage


def test_host_status_needs_the_master_key(host):
    url = f"http://127.0.0.1:{host.port}/admin/host/status"
    assert requests.get(url, params={"code": host.function_key}, timeout=10).status_code == 401
    assert requests.get(url, params={"code": host.system_key}, timeout=10).status_code == 401
    assert requests.get(url, params={"code": host.master_key}, timeout=10).json()["state"] == "Running"


def _peek(queue: QueueClient) -> list[str]:
    try:
        return [m.content for m in queue.peek_messages(max_messages=32)]
    except ResourceNotFoundError:  # the host creates the poison queue with its first message
        return []


def _drain(queue: QueueClient, content: str) -> None:
    try:
        for message in queue.receive_messages(max_messages=32, visibility_timeout=1):
            if message.content == content:
                queue.delete_message(message)
    except ResourceNotFoundError:
        pass


def _wait_started(host, request_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while host.status(request_id).status_code == 404:
        assert time.monotonic() < deadline, "queued request never started"
        time.sleep(0.3)


def test_queue_message_as_azure_storage_queue_sends_it_by_default_is_poisoned(stack, host):
    # host.json says messageEncoding base64; QueueClient without an encode policy sends the JSON text.
    settings = load_settings()
    queue = QueueClient.from_connection_string(settings.storage_connection, stack.queue_name)
    poison = QueueClient.from_connection_string(settings.storage_connection, stack.queue_name + "-poison")
    plain = stack.body("export", operation="export", categories=["tags"])
    text = json.dumps(plain)
    queue.send_message(text)
    deadline = time.monotonic() + 60
    try:
        while text not in _peek(poison):
            assert time.monotonic() < deadline, "plain-text message never reached the poison queue"
            time.sleep(0.3)
        assert host.status(plain["requestId"]).status_code == 404  # the intake function never ran
    finally:
        _drain(poison, text)  # other tests expect an empty poison queue
    encoded = stack.body("export", operation="export", categories=["tags"])
    queue.send_message(base64.b64encode(json.dumps(encoded).encode()).decode())
    _wait_started(host, encoded["requestId"])
    assert host.wait(encoded["requestId"]).status_code == 200
