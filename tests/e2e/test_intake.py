"""Submitting requests: function keys, validation errors, idempotent resubmission, the queue path."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from azure.storage.queue import QueueClient

from dsr.config import load_settings
from tests.e2e.test_export import durable_state_holds

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
    queue = QueueClient.from_connection_string(settings.storage_connection, stack.queue_name)
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
    rejected: list[dict] = []
    while not rejected:  # other tests reject items into the same container: find this one
        assert time.monotonic() < deadline, "bad request was not recorded"
        rejected = [
            record
            for blob in container.list_blobs(name_starts_with="intake/rejected/")
            if (record := json.loads(container.download_blob(blob.name).readall()))["item"].get("requestId")
            == "bad-one"
        ]
        time.sleep(0.2)
    record = rejected[0]
    assert record["index"] == 1
    assert "account" in record["reason"]


class CallbackReceiver:
    """A loopback HTTP endpoint that records the callbacks it receives."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def callback_receiver():
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def host_settings(callback_receiver):
    return {"DSR_CALLBACK_ALLOWED_ORIGINS": callback_receiver.origin}


def test_callback_url_outside_the_allow_list_is_refused(stack, host):
    body = stack.body("export", operation="export", callbackUrl="https://collector.example.net/hook")
    response = host.submit(body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "callbackUrl"


def test_finished_request_calls_back_with_its_outcome_only(stack, fresh_host, callback_receiver):
    body = stack.body(
        "export", operation="export", categories=["tags"], callbackUrl=f"{callback_receiver.origin}/dsr/done"
    )
    assert fresh_host.submit(body).status_code == 202
    document = fresh_host.wait(body["requestId"]).json()
    assert document["callback"] == {"delivered": True, "status": 204}
    assert len(callback_receiver.received) == 1
    path, payload = callback_receiver.received[0]
    assert path == "/dsr/done"
    assert payload["requestId"] == body["requestId"]
    assert payload["state"] == "succeeded"
    assert set(payload) == {"requestId", "operation", "state", "completedAt", "statusFile"}
    stored = stack.records(body["requestId"]).json(f"{body['requestId']}/status.json")
    assert stored["callback"]["delivered"] is True


def test_status_survives_purging_the_durable_history(stack, host):
    body = stack.body("export", operation="export", categories=["tags"])
    assert host.submit(body).status_code == 202
    finished = host.wait(body["requestId"])
    assert finished.status_code == 200
    purge = requests.delete(
        f"http://127.0.0.1:{host.rpc_port}/durabletask/instances/dsr-{body['requestId']}", timeout=10
    )
    assert purge.status_code == 200
    assert purge.json()["instancesDeleted"] == 1
    after = host.status(body["requestId"])
    assert after.status_code == 200
    assert after.json() == finished.json()


def test_callback_signature_stays_out_of_history_and_documents(stack, fresh_host, callback_receiver):
    url = f"{callback_receiver.origin}/dsr/done?sv=2025-01-01&sig=c2lnbmF0dXJlLXZhbHVl"
    body = stack.body("export", operation="export", categories=["tags"], callbackUrl=url)
    assert fresh_host.submit(body).status_code == 202
    document = fresh_host.wait(body["requestId"]).json()
    assert document["callback"]["delivered"] is True
    assert callback_receiver.received[0][0].endswith("sig=c2lnbmF0dXJlLXZhbHVl")
    assert document["request"]["callbackHost"] == "127.0.0.1"
    stored = stack.records(body["requestId"]).read(f"{body['requestId']}/status.json")
    assert b"c2lnbmF0dXJlLXZhbHVl" not in stored
    assert "c2lnbmF0dXJlLXZhbHVl" not in json.dumps(document)
    assert not durable_state_holds(fresh_host, "c2lnbmF0dXJlLXZhbHVl")
