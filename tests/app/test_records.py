"""Request records on Azurite: the first writer of a request id wins, whatever the timing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from dsr.contract import parse_request
from dsr.errors import RequestConflictError
from dsr.records import claim, claim_run, new_run_ticket, redacted_item, run_started, stash_payloads
from dsr.storage import get_json
from tests.functional.fakes import MemoryStore

RACERS = 24


def _body(subject_id: str, **extra):
    return {
        "requestId": "race-1",
        "operation": "export",
        "account": {"endpoint": "https://west.cognitiveservices.azure.com", "trainingKeySecret": "cv-key"},
        "subject": {"metadata": {"subjectId": subject_id}},
        **extra,
    }


def test_exactly_one_of_many_concurrent_bodies_claims_the_id(export_store):
    requests = [parse_request(_body(f"subject-{i:03}")) for i in range(RACERS)]
    now = datetime.now(UTC)

    def attempt(request):
        try:
            return claim(export_store, request, now)
        except RequestConflictError:
            return None

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(attempt, requests))
    winners = [(r, o) for r, o in zip(requests, outcomes, strict=True) if o is not None]
    assert len(winners) == 1
    request, outcome = winners[0]
    assert outcome.created is True
    assert outcome.record["fingerprint"] == request["fingerprint"]
    # The winner's payload is stored under its own fingerprint: a loser's subject can never be read.
    stashed = stash_payloads(export_store, request)
    subject, original = stashed["subject"], request["subject"]
    assert subject is not None
    assert original is not None
    assert subject["metadata"] is None
    assert subject["metadataFile"] is not None
    assert request["fingerprint"] in subject["metadataFile"]
    assert get_json(export_store, subject["metadataFile"]) == original["metadata"]


def test_identical_resubmission_returns_the_record_and_another_body_conflicts(export_store):
    first = parse_request(_body("subject-001"))
    received = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert claim(export_store, first, received).created is True
    again = claim(export_store, parse_request(_body("subject-001")), datetime.now(UTC))
    assert again.created is False
    assert again.record["receivedAt"] == "2026-01-02T03:04:05Z"
    with pytest.raises(RequestConflictError):
        claim(export_store, parse_request(_body("subject-002")), datetime.now(UTC))


def test_callback_url_leaves_the_request_for_a_blob(export_store):
    url = "https://hooks.example.net/dsr?sv=2024&sig=c2VjcmV0"
    request = parse_request(_body("subject-001", callbackUrl=url))
    assert request["callbackHost"] == "hooks.example.net"
    stashed = stash_payloads(export_store, request)
    assert stashed["callbackUrl"] is None
    assert "sig=" not in repr(stashed)
    assert stashed["callbackFile"] is not None
    assert get_json(export_store, stashed["callbackFile"]) == url


def test_rejected_items_keep_shape_but_not_subject_values_or_urls():
    item = _body("jane.doe@example.com", callbackUrl="https://hooks.example.net/x?sig=abc")
    item["subject"]["predictions"] = {"application": "kiosk-7"}
    item["account"]["key"] = "typed-by-mistake"
    item["note"] = "about jane.doe"
    kept = redacted_item(item)
    assert "jane.doe" not in repr(kept)
    assert "sig=" not in repr(kept)
    assert "typed-by-mistake" not in repr(kept)
    assert kept["requestId"] == "race-1"
    assert kept["account"]["trainingKeySecret"] == "cv-key"
    assert kept["subject"]["metadata"] == {"subjectId": "<redacted>"}
    assert redacted_item(b"[[[")["bytes"] == 3


def test_one_start_of_an_attempt_claims_its_run_and_keeps_it():
    store = MemoryStore()
    first, late = new_run_ticket(1), new_run_ticket(1)
    assert first["token"] != late["token"]
    assert not run_started(store, "race-1")
    assert claim_run(store, "race-1", first)
    assert claim_run(store, "race-1", first)  # a replay or a retried activity: the same run
    assert not claim_run(store, "race-1", late)  # a second start of the finished attempt
    assert run_started(store, "race-1")
    assert claim_run(store, "race-1", new_run_ticket(2))  # a retry is a new attempt
