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


def test_kept_fields_are_kept_only_when_their_value_is_what_the_contract_allows():
    # The refused value is often the reason for the refusal: an id that is an e-mail address, an
    # endpoint with a password in it. Kept verbatim, it would land in a blob kept for days.
    item = _body("x")
    item["requestId"] = "jane.doe@example.com"
    item["operation"] = {"jane.doe@example.com": 1}
    item["categories"] = ["images", {"email": "jane.doe@example.com"}, "jane.doe@example.com"]
    item["projectIds"] = ["0f4c3d2e-1b2a-4c3d-8e9f-001122334455", "jane.doe@example.com"]
    item["dryRun"] = "jane.doe@example.com"
    item["account"]["endpoint"] = "https://admin:S3cr3t-pw@x.cognitiveservices.azure.com"
    item["account"]["trainingKeySecret"] = "jane.doe@example.com"
    item["subject"]["metadata"] = {"jane.doe@example.com": "v", "subjectId": "s-1"}
    item["jane.doe@example.com"] = "note"
    kept = redacted_item(item)
    text = repr(kept)
    assert "jane.doe" not in text
    assert "S3cr3t" not in text
    assert "admin" not in text
    assert kept["requestId"] == kept["operation"] == kept["dryRun"] == "<redacted>"
    assert kept["categories"] == ["images", "<redacted>", "<redacted>"]
    assert kept["projectIds"] == ["0f4c3d2e-1b2a-4c3d-8e9f-001122334455", "<redacted>"]
    assert kept["account"] == {"endpoint": "<redacted>", "trainingKeySecret": "<redacted>"}
    assert sorted(kept["subject"]["metadata"]) == ["<redacted key 1>", "subjectId"]
    assert "<redacted key 1>" in kept  # the unknown top-level key: there, but not its name


def test_a_valid_endpoint_is_kept_as_its_origin():
    item = _body("x")
    item["account"]["endpoint"] = "https://x.cognitiveservices.azure.com"
    assert redacted_item(item)["account"]["endpoint"] == "https://x.cognitiveservices.azure.com"
