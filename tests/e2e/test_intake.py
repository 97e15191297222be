"""Submitting requests: function keys, validation errors, idempotent resubmission, the queue path."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from azure.storage.queue import QueueClient

from dsr.config import load_settings

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_function_key_is_required(host):
    response = requests.post(f"{host.api}/requests", json={}, timeout=10)
    assert response.status_code == 401


def test_bad_input_gets_400_naming_the_field(stack, host):
    body = stack.body("export", operation="export", categories=["images", "faces"])
    response = host.submit(body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "categories.1"
    not_json = requests.post(f"{host.api}/requests", data=b"{", headers=host.headers, timeout=10)
    assert not_json.status_code == 400
    assert not_json.json()["error"]["field"] == "body"


def test_endpoint_outside_the_allow_list_is_refused_before_anything_runs(stack, host):
    body = stack.body("export", operation="export")
    body["account"]["endpoint"] = "https://attacker.example.com"
    response = host.submit(body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "account.endpoint"
    assert host.status(body["requestId"]).status_code == 404


def test_resubmitting_returns_the_same_request_and_a_changed_body_conflicts(stack, host):
    body = stack.body("export", operation="export", categories=["projects"])
    first, second = host.submit(body), host.submit(body)
    assert first.status_code == second.status_code == 202
    assert first.json()["created"] is True
    assert second.json()["created"] is False
    assert first.headers["Location"] == second.headers["Location"]
    changed = host.submit({**body, "categories": ["tags"]})
    assert changed.status_code == 409
    assert host.wait(body["requestId"]).status_code == 200
    assert host.submit(body).json()["created"] is False  # finished requests are not run again


def test_unknown_request_is_404(host):
    assert host.status("no-such-request").status_code == 404


def test_queue_messages_start_requests_and_bad_ones_are_recorded(stack, host):
    settings = load_settings()
    queue = QueueClient.from_connection_string(settings.storage_connection, "dsr-requests")
    good = stack.body("export", operation="export", categories=["tags"])
    bad = {"requestId": "bad-one", "operation": "export"}
    payload = json.dumps({"requests": [good, bad]}).encode()
    queue.send_message(base64.b64encode(payload).decode())
    deadline = time.monotonic() + 60
    while host.status(good["requestId"]).status_code == 404:
        assert time.monotonic() < deadline, "queued request never started"
        time.sleep(0.3)
    assert host.wait(good["requestId"]).status_code == 200
    container = stack.folder("").container
    rejected = []
    while not rejected:
        assert time.monotonic() < deadline, "bad request was not recorded"
        rejected = [b.name for b in container.list_blobs(name_starts_with="intake/rejected/")]
        time.sleep(0.2)
    record = json.loads(container.download_blob(rejected[0]).readall())
    assert record["index"] == 1
    assert "account" in record["reason"]
