"""Retry and cancel documents: which categories run again, what an attempt records, what a cancel keeps."""

from __future__ import annotations

from datetime import datetime

import pytest

from dsr.attempts import categories_to_retry, retry_input
from dsr.cancellation import canceled_document, cancellation_from, termination_reason
from dsr.contract import parse_request
from dsr.errors import RequestConflictError
from dsr.status import finish, initial_document
from dsr.storage import FileRef
from dsr.wire import CategoryState, RequestInput


def request(operation="export", categories=("projects", "tags", "images")):
    return parse_request(
        {
            "requestId": "r1",
            "operation": operation,
            "account": {"endpoint": "https://a.cognitiveservices.azure.com", "trainingKeySecret": "cv-key"},
            "categories": list(categories),
        }
    )


def finished(states: dict[str, CategoryState], operation="export"):
    document = initial_document(request(operation, tuple(states)), datetime(2026, 1, 1), "running")
    for name, state in states.items():
        document["categories"][name]["state"] = state
    return finish(document, datetime(2026, 1, 1, 1))


def test_retry_runs_only_failed_categories_and_records_the_attempt():
    stored: RequestInput = {
        "request": request(),
        "receivedAt": "2026-01-01T00:00:00Z",
        "approval": {"required": True},
    }
    document = finished({"projects": "succeeded", "tags": "failed", "images": "failed"})
    assert categories_to_retry(document) == ["tags", "images"]
    attempt = retry_input(stored, document, "2026-01-02T00:00:00Z")
    retry = attempt["retry"]
    assert retry["attempt"] == 2
    assert retry["categories"] == ["tags", "images"]
    assert set(retry["carried"]) == {"projects"}
    assert retry["attempts"] == [
        {
            "attempt": 1,
            "state": "partially_succeeded",
            "startedAt": "2026-01-01T00:00:00Z",
            "completedAt": "2026-01-01T01:00:00Z",
            "categories": {"projects": "succeeded", "tags": "failed", "images": "failed"},
        }
    ]
    assert attempt["approval"] == {"required": False}  # the request's decision covers its retry
    assert attempt["request"] is stored["request"]

    second = finished({"projects": "succeeded", "tags": "succeeded", "images": "failed"})
    second["attempts"] = retry["attempts"]
    third = retry_input(attempt, second, "2026-01-03T00:00:00Z")["retry"]
    assert third["attempt"] == 3
    assert third["attempts"][1] == {
        "attempt": 2,
        "state": "partially_succeeded",
        "startedAt": "2026-01-02T00:00:00Z",
        "completedAt": "2026-01-01T01:00:00Z",
        "categories": {"tags": "succeeded", "images": "failed"},
    }


def test_a_retry_also_runs_the_delete_categories_whose_deletion_was_not_verified():
    # Before: a delete that ended with items still listed after the verification deadline had
    # succeeded, so it could not be retried, and its receipts said verified:false for good.
    stored: RequestInput = {
        "request": request("delete", ("images", "tags", "predictions")),
        "receivedAt": "2026-01-01T00:00:00Z",
        "approval": {"required": False},
    }
    document = finished({"images": "succeeded", "tags": "succeeded", "predictions": "succeeded"}, "delete")
    document["categories"]["images"]["verified"] = False
    document["categories"]["tags"]["verified"] = True
    document["categories"]["predictions"]["verified"] = None
    assert document["state"] == "succeeded"
    assert categories_to_retry(document) == ["images"]
    retry = retry_input(stored, document, "2026-01-02T00:00:00Z")["retry"]
    assert retry["categories"] == ["images"]
    assert set(retry["carried"]) == {"tags", "predictions"}
    assert retry["attempts"][0]["categories"] == {
        "images": "succeeded",
        "tags": "succeeded",
        "predictions": "succeeded",
    }

    document["categories"]["images"]["verified"] = True
    with pytest.raises(RequestConflictError, match="nothing to retry"):
        retry_input(stored, document, "2026-01-02T00:00:00Z")


@pytest.mark.parametrize("states", [{"projects": "succeeded"}, {"projects": "skipped"}])
def test_nothing_to_retry_is_a_conflict(states):
    stored: RequestInput = {
        "request": request(categories=tuple(states)),
        "receivedAt": "2026-01-01T00:00:00Z",
        "approval": {"required": False},
    }
    with pytest.raises(RequestConflictError, match="nothing to retry"):
        retry_input(stored, finished(states), "2026-01-02T00:00:00Z")


def test_cancellation_travels_as_the_termination_reason():
    reason = termination_reason("2026-01-01T00:00:00Z", "ops", "wrong account")
    expected = {"at": "2026-01-01T00:00:00Z", "by": "ops", "reason": "wrong account"}
    assert cancellation_from(reason) == expected
    assert cancellation_from(f'"{reason.replace(chr(34), chr(92) + chr(34))}"') == expected  # encoded twice
    assert cancellation_from("terminated from the portal") is None
    assert cancellation_from(None) is None


def test_canceled_delete_keeps_finished_categories_and_their_receipts():
    document = initial_document(request("delete", ("images", "tags", "iterationList")), datetime(2026, 1, 1))
    document["categories"]["images"]["state"] = "succeeded"
    document["categories"]["tags"]["state"] = "running"
    receipts = [
        FileRef("r1/receipts/images/p1.json", 10, "a" * 64, "application/json"),
        FileRef("r1/receipts/iterations/p1.json", 10, "b" * 64, "application/json"),
    ]
    record = {"at": "2026-01-01T00:05:00Z", "by": "ops", "reason": None}
    canceled = canceled_document(document, record, receipts)
    assert canceled["state"] == "canceled"
    assert canceled["completedAt"] == "2026-01-01T00:05:00Z"
    assert canceled["cancellation"] == record
    assert canceled["categories"]["images"]["state"] == "succeeded"
    images_receipt = canceled["categories"]["images"]["receipt"]
    assert images_receipt
    assert images_receipt["files"][0]["path"] == "r1/receipts/images/p1.json"
    assert canceled["categories"]["tags"]["state"] == "skipped"
    assert canceled["categories"]["tags"]["receipt"] is None
    # The three iteration categories share the "iterations" delete unit and its receipts.
    iterations_receipt = canceled["categories"]["iterationList"]["receipt"]
    assert iterations_receipt
    assert iterations_receipt["files"][0]["sha256"] == "b" * 64
    assert document["categories"]["tags"]["state"] == "running"  # the input is not changed
    assert canceled_document(document, None, [])["error"] == "the request was terminated by an operator"
