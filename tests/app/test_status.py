"""Status document rules: due dates, echo without personal data, category folding, overall state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from dsr.contract import parse_request
from dsr.errors import InvalidRequestError
from dsr.status import (
    await_approval,
    due_date,
    finish,
    from_durable,
    initial_document,
    mark_running,
    merge_units,
    new_category_entry,
    overall_state,
    progress,
    record_category,
    record_decision,
    with_expiry,
)
from dsr.wire import RequestInput


def unit(state, counts=None, verified=None, note=None):
    return {
        "category": "images",
        "projectId": "p",
        "state": state,
        "counts": counts or {},
        "files": [{"path": f"x/{state}", "bytes": 1, "sha256": "0" * 64}],
        "verified": verified,
        "note": note,
        "next": None,
    }


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2026, 1, 31, 9, 30), datetime(2026, 2, 28, 9, 30)),
        (datetime(2028, 1, 31), datetime(2028, 2, 29)),
        (datetime(2026, 12, 15), datetime(2027, 1, 15)),
        (datetime(2026, 5, 1), datetime(2026, 6, 1)),
    ],
)
def test_due_date_is_one_calendar_month_later(received, due):
    assert due_date(received) == due


def test_initial_document_echoes_request_without_metadata_values():
    request = parse_request(
        {
            "requestId": "r1",
            "operation": "delete",
            "account": {"endpoint": "https://a.cognitiveservices.azure.com", "trainingKeySecret": "cv-key"},
            "subject": {"metadata": {"subjectId": "jane@example.com"}},
        }
    )
    document = initial_document(request, datetime(2026, 3, 1, 12, 0, 0))
    assert document["receivedAt"] == "2026-03-01T12:00:00Z"
    assert document["dueAt"] == "2026-04-01T12:00:00Z"
    assert document["request"]["subject"] == {"metadataKeys": ["subjectId"], "predictions": None}
    assert "jane@example.com" not in str(document)
    assert set(document["categories"]) == {"images", "predictions"}


def test_merge_sums_counts_and_requires_every_unit_verified():
    entry = merge_units(
        "delete", "images", [unit("succeeded", {"n": 2}, True), unit("succeeded", {"n": 3}, False)]
    )
    assert entry["counts"] == {"n": 5}
    assert entry["state"] == "succeeded"
    assert entry["verified"] is False
    assert len(entry["files"]) == 2
    assert merge_units("delete", "images", [unit("succeeded", verified=True)])["verified"] is True
    assert merge_units("delete", "images", [unit("succeeded", verified=None)])["verified"] is None


def test_merge_fails_the_category_when_any_unit_failed():
    assert (
        merge_units("export", "images", [unit("succeeded"), unit("failed", note="boom")])["state"] == "failed"
    )
    assert merge_units("export", "predictions", [unit("not_attributable")])["state"] == "not_attributable"


def test_overall_state():
    ok, bad = new_category_entry("succeeded"), new_category_entry("failed")
    manual = new_category_entry("manual_action_required")
    assert overall_state({"a": ok, "b": manual}) == "succeeded"
    assert overall_state({"a": ok, "b": bad}) == "partially_succeeded"
    assert overall_state({"a": bad}) == "failed"


def test_completed_and_progress():
    request = parse_request(
        {
            "requestId": "r2",
            "operation": "export",
            "account": {"endpoint": "https://a.b.c", "trainingKeySecret": "k"},
        }
    )
    document = initial_document(request, datetime(2026, 3, 1))
    for entry in document["categories"].values():
        entry["state"] = "succeeded"
    done = finish(document, datetime(2026, 3, 2))
    assert done["state"] == "succeeded"
    assert done["completedAt"] == "2026-03-02T00:00:00Z"
    compact = progress(done)
    assert "files" not in compact["categories"]["images"]
    assert document["completedAt"] is None  # finish() does not mutate its input


def test_documents_validate_against_the_published_schema():
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    request = parse_request(
        {
            "requestId": "r3",
            "operation": "delete",
            "account": {"endpoint": "https://a.cognitiveservices.azure.com", "trainingKeySecret": "k"},
            "subject": {"metadata": {"subjectId": "x"}, "predictions": {"application": "kiosk"}},
        }
    )
    document = initial_document(request, datetime(2026, 3, 1))
    validator.validate(document)
    document["categories"]["images"] = merge_units(
        "delete", "images", [unit("succeeded", {"imagesDeleted": 2}, True)]
    )
    document["categories"]["images"]["receipt"] = {"files": document["categories"]["images"]["files"]}
    validator.validate(finish(document, datetime(2026, 3, 2)))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**document, "state": "exploded"})


def test_shared_images_entry_splits_into_images_and_iteration_performance():
    from dsr.status import split_shared_entry
    from dsr.units import shared_export_units

    assert shared_export_units(["images", "iterationPerformance", "tags"], subject_scoped=False) == {
        "images": ["images", "iterationPerformance"],
        "tags": ["tags"],
    }
    assert "iterationPerformance" in shared_export_units(
        ["images", "iterationPerformance"], subject_scoped=True
    )
    entry = new_category_entry("succeeded")
    entry["counts"] = {"images": 3, "imagePerformances": 5, "iterations": 2, "apiCalls": 9, "throttled": 0}
    entry["files"] = [
        {"path": "r/export/images/p/images-0000000.ndjson"},
        {"path": "r/export/iteration-performance/p/i.json"},
    ]
    images = split_shared_entry(entry, "images")
    performance = split_shared_entry(entry, "iterationPerformance")
    assert images["counts"] == {"images": 3, "apiCalls": 9, "throttled": 0}
    assert performance["counts"] == {"imagePerformances": 5, "iterations": 2}
    assert [f["path"] for f in images["files"]] == ["r/export/images/p/images-0000000.ndjson"]
    assert [f["path"] for f in performance["files"]] == ["r/export/iteration-performance/p/i.json"]


def _request(**fields):
    return parse_request(
        {
            "requestId": "r1",
            "operation": "delete",
            "account": {"endpoint": "https://a.cognitiveservices.azure.com", "trainingKeySecret": "cv-key"},
            **fields,
        }
    )


def test_extension_moves_the_due_date_and_is_recorded():
    document = initial_document(
        _request(extension={"months": 2, "reason": "complex request"}), datetime(2026, 1, 31)
    )
    assert document["dueAt"] == "2026-04-30T00:00:00Z"  # one month plus two further months
    assert document["extension"] == {
        "months": 2,
        "reason": "complex request",
        "originalDueAt": "2026-02-28T00:00:00Z",
    }
    assert initial_document(_request(), datetime(2026, 1, 31))["extension"] is None


@pytest.mark.parametrize(
    "extension", [{"months": 3, "reason": "x"}, {"months": 1, "reason": ""}, {"months": 1}]
)
def test_extension_is_at_most_two_months_with_a_reason(extension):
    with pytest.raises(InvalidRequestError) as raised:
        _request(extension=extension)
    assert raised.value.field.startswith("extension")


def test_extension_changes_the_fingerprint_only_when_set():
    assert _request()["fingerprint"] != _request(extension={"months": 1, "reason": "r"})["fingerprint"]


def test_a_delete_left_with_manual_actions_lists_them():
    document = initial_document(
        _request(categories=["images", "accountInfo", "exportedModels"]), datetime(2026, 1, 1)
    )
    document["categories"]["images"].update({"state": "succeeded"})
    document["categories"]["accountInfo"].update(
        {"state": "manual_action_required", "note": "delete the resource"}
    )
    document["categories"]["exportedModels"].update(
        {"state": "manual_action_required", "note": "delete copies"}
    )
    finished = finish(document, datetime(2026, 1, 2))
    assert finished["state"] == "succeeded"
    assert finished["manualActions"] == [
        {"category": "accountInfo", "action": "delete the resource"},
        {"category": "exportedModels", "action": "delete copies"},
    ]
    assert document["manualActions"] == []  # not before the request ends


def test_progress_carries_errors_so_a_stuck_request_says_why():
    document = initial_document(_request(categories=["images"]), datetime(2026, 1, 1))
    document["error"] = "SecretStoreUnavailableError: Key Vault could not be reached"
    document["categories"]["images"]["error"] = "x" * 5000
    compact = progress(document)
    assert compact["error"] == document["error"]
    assert compact["categories"]["images"]["error"] == "x" * 200


def _stored(**fields) -> RequestInput:
    return {
        "request": _request(**fields),
        "receivedAt": "2026-01-01T00:00:00Z",
        "approval": {"required": False},
    }


def test_from_durable_rebuilds_the_document_from_input_and_progress():
    running = mark_running(
        initial_document(_request(categories=["images", "tags"]), datetime(2026, 1, 1), "running"), ["tags"]
    )
    reported = progress(record_category(running, "images", ["images"], new_category_entry("succeeded")))
    document = from_durable(_stored(categories=["images", "tags"]), reported, "running")
    assert {n: e["state"] for n, e in document["categories"].items()} == {
        "images": "succeeded",
        "tags": "running",
    }
    assert document["categories"]["tags"]["files"] == []  # progress carries no files; the entry stays whole
    assert document["state"] == "running"


def test_from_durable_shows_a_finished_but_unwritten_request_as_running_and_a_crash_as_failed():
    finished = progress(
        finish(
            initial_document(_request(categories=["tags"]), datetime(2026, 1, 1)),
            datetime(2026, 1, 1),
            "failed",
        )
    )
    assert from_durable(_stored(categories=["tags"]), finished, "running")["state"] == "running"
    crashed = from_durable(_stored(categories=["tags"]), None, "failed")
    assert crashed["state"] == "failed"
    assert crashed["error"] == "the request failed unexpectedly; operators can find details in the logs"
    assert from_durable(_stored(categories=["tags"]), None, "terminated")["state"] == "pending"


def test_a_decision_recorded_without_optional_keys_still_reads():
    waiting = await_approval(
        initial_document(_request(categories=["tags"]), datetime(2026, 1, 1)), datetime(2026, 1, 2)
    )
    decision: Any = {"by": "ann"}  # an event raised before decisions named themselves: an approval
    approved = record_decision(waiting, decision, datetime(2026, 1, 1, 1))
    assert approved["state"] == "running"
    assert approved["approval"] == {
        "required": True,
        "deadline": "2026-01-02T00:00:00Z",
        "decision": "approve",
        "by": "ann",
        "principal": None,
        "at": "2026-01-01T01:00:00Z",
        "comment": None,
    }
    assert waiting["approval"]
    assert waiting["approval"]["decision"] is None  # the input is not changed


def test_every_purge_adds_to_the_expiry_count():
    terms = {"days": 30, "expiresAt": "2026-01-31T00:00:00Z", "policy": "p", "expired": None}
    document = finish(
        initial_document(_request(categories=["tags"]), datetime(2026, 1, 1)), datetime(2026, 1, 1)
    )
    once = with_expiry(document, terms, "2026-02-01T00:00:00Z", "expired", 3)
    twice = with_expiry(once, terms, "2026-02-02T00:00:00Z", "expired", 2)
    assert twice["retention"] == {
        **terms,
        "expired": {"at": "2026-02-02T00:00:00Z", "reason": "expired", "filesDeleted": 5},
    }
    assert document["retention"] is None
