"""The bad-input catalogue over the wire: each case is a precise 400 over HTTP, and a recorded (never
poisoned, never started) rejection on the queue."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from azure.storage.queue import QueueClient

from dsr.config import load_settings
from tests.app.bad_inputs import CATALOGUE, PERSONAL

pytestmark = [pytest.mark.services, pytest.mark.slow]

QUEUE_MESSAGE_LIMIT = 64 * 1024
"""Azure Storage queue messages hold at most 64 KiB; larger cases are HTTP-only."""


def test_every_case_is_a_400_naming_its_field_over_http(host):
    mismatches = []
    with requests.Session() as session:
        for case in CATALOGUE:
            response = session.post(f"{host.api}/requests", data=case.raw, headers=host.headers, timeout=10)
            error = response.json().get("error", {}) if response.status_code == 400 else {}
            got = (
                response.status_code,
                error.get("field"),
                str(error.get("message", ""))[: len(case.message)],
            )
            if got != (400, case.field, case.message):
                mismatches.append((case.name, got))
            assert PERSONAL not in response.text
    assert mismatches == []


def test_every_case_is_recorded_as_rejected_from_the_queue(stack, host):
    settings = load_settings()
    queue = QueueClient.from_connection_string(settings.storage_connection, stack.queue_name)
    sent = {}
    for case in CATALOGUE:
        encoded = base64.b64encode(case.raw).decode()
        if len(encoded) > QUEUE_MESSAGE_LIMIT:
            continue
        message = queue.send_message(encoded)
        sent[message.id] = case
    container = stack.folder("").container
    deadline = time.monotonic() + 120
    found: dict[str, dict] = {}
    while len(found) < len(sent):
        assert time.monotonic() < deadline, f"{len(sent) - len(found)} cases were not recorded"
        for blob in container.list_blobs(name_starts_with="intake/rejected/"):
            record = json.loads(container.download_blob(blob.name).readall())
            if record["messageId"] in sent:
                found[record["messageId"]] = record
        time.sleep(0.5)
    mismatches = [
        (case.name, found[message_id]["field"])
        for message_id, case in sent.items()
        if found[message_id]["field"] != case.field or PERSONAL in json.dumps(found[message_id])
    ]
    assert mismatches == []
    assert len(sent) >= 150
