"""The public request contract: what is accepted, how it is normalized, and how refusals name the field."""

from __future__ import annotations

import copy

import pytest

from dsr.contract import instance_id_for, parse_request
from dsr.errors import InvalidRequestError

PROJECT = "0f4c3d2e-1b2a-4c3d-8e9f-001122334455"


def body(**overrides):
    base = {
        "operation": "export",
        "account": {"endpoint": "https://west.cognitiveservices.azure.com/", "trainingKeySecret": "cv-key"},
    }
    base.update(overrides)
    return base


def refusal(payload) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        parse_request(payload)
    return caught.value


def test_minimal_export_covers_every_category_in_table_order():
    request = parse_request(body(requestId="req-1"))
    assert request["requestId"] == "req-1"
    assert request["account"]["endpoint"] == "https://west.cognitiveservices.azure.com"
    assert request["categories"] == [
        "accountInfo",
        "iterationDetails",
        "iterationPerformance",
        "iterationList",
        "projects",
        "tags",
        "images",
        "exportedModels",
        "predictions",
    ]
    assert request["subject"] is None
    assert request["dryRun"] is False


def test_missing_request_id_gets_a_fresh_one():
    first, second = parse_request(body()), parse_request(body())
    assert first["requestId"] != second["requestId"]
    assert first["fingerprint"] == second["fingerprint"]


def test_fingerprint_ignores_order_but_not_content():
    a = parse_request(body(categories=["tags", "images"], projectIds=[PROJECT]))
    b = parse_request(body(categories=["images", "tags"], projectIds=[PROJECT.upper()]))
    c = parse_request(body(categories=["images"], projectIds=[PROJECT]))
    assert a["fingerprint"] == b["fingerprint"]
    assert a["fingerprint"] != c["fingerprint"]
    assert b["projectIds"] == [PROJECT]


def test_subject_scope_defaults_to_images_and_predictions():
    request = parse_request(body(subject={"metadata": {"subjectId": "s-1"}}))
    assert request["categories"] == ["images", "predictions"]
    assert request["subject"] == {
        "metadata": {"subjectId": "s-1"},
        "metadataKeys": ["subjectId"],
        "metadataFile": None,
        "predictions": None,
    }


def test_prediction_window_is_normalized_to_utc():
    request = parse_request(
        body(subject={"metadata": {"s": "1"}, "predictions": {"from": "2026-01-01T01:00:00+01:00"}})
    )
    assert request["subject"] is not None
    assert request["subject"]["predictions"] == {
        "application": None,
        "from": "2026-01-01T00:00:00Z",
        "to": None,
    }


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00Z"),  # a zero fraction is a whole second
        ("1970-01-01T01:00:00+01:00", "1970-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ],
)
def test_a_window_to_the_second_within_the_range_is_kept_as_given(given: str, kept: str):
    request = parse_request(body(subject={"metadata": {"s": "1"}, "predictions": {"to": given}}))
    assert request["subject"] is not None
    assert request["subject"]["predictions"] is not None
    assert request["subject"]["predictions"]["to"] == kept


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "body"),
        ({"account": body()["account"]}, "operation"),
        (body(operation="erase"), "operation"),
        (body(account={"endpoint": "https://x.cognitiveservices.azure.com"}), "account.trainingKeySecret"),
        (body(account={"endpoint": "ftp://x", "trainingKeySecret": "k"}), "account.endpoint"),
        (
            body(account={"endpoint": "https://x.y", "trainingKeySecret": "bad_name"}),
            "account.trainingKeySecret",
        ),
        (body(categories=[]), "categories"),
        (body(categories=["faces"]), "categories.0"),
        (body(projectIds=["not-a-uuid"]), "projectIds.0"),
        (body(requestId="../etc"), "requestId"),
        (body(subject={"metadata": {}}), "subject.metadata"),
        (body(subject={"metadata": {"bad key!": "v"}}), "subject.metadata"),
        (body(subject={"metadata": {"k": "v"}, "predictions": {}}), "subject.predictions"),
        (
            body(subject={"metadata": {"k": "v"}, "predictions": {"from": "2026-01-01T00:00:00"}}),
            "subject.predictions.from",
        ),
        (body(dryRun=True), "dryRun"),
        (body(callbackUrl="ftp://files.example"), "callbackUrl"),
        (body(surprise=1), "surprise"),
    ],
)
def test_refusals_name_the_field(payload, field):
    assert refusal(payload).field == field


@pytest.mark.parametrize("request_id", ["intake", "chains"])
def test_ids_of_shared_folders_are_refused(request_id):
    # A request's folder is named after its id, beside the folders every request shares.
    error = refusal(body(requestId=request_id))
    assert error.field == "requestId"
    assert "reserved" in error.message


def test_subject_scoped_delete_may_not_name_account_level_categories():
    error = refusal(
        body(operation="delete", subject={"metadata": {"k": "v"}}, categories=["images", "projects"])
    )
    assert error.field == "categories"
    assert "projects" in error.message


def test_refusals_never_echo_submitted_values():
    personal = "jane.doe@example.com"
    payload = body(subject={"metadata": {"subjectId": personal, "bad key!": personal}})
    error = refusal(copy.deepcopy(payload))
    assert personal not in str(error)


def test_instance_id_is_derived_from_request_id():
    assert instance_id_for("req-1") == "dsr-req-1"
    with pytest.raises(InvalidRequestError):
        instance_id_for("a/b")


def test_an_extension_reason_may_break_lines_and_is_kept_as_given():
    reason = "Umfangreiche Anfrage:\n\u2013 3 Projekte,\r\n\tviele Bilder "
    request = parse_request(body(extension={"months": 2, "reason": reason}))
    assert request["extension"] == {"months": 2, "reason": reason}


@pytest.mark.parametrize("reason", ["a\u0000b", "\u202eabc", "   ", "\n\t\r\n", "a\u2028b"])
def test_an_extension_reason_is_plain_text_and_not_blank(reason):
    # The approval and cancel texts refuse these; the reason is told to the data subject.
    error = refusal(body(extension={"months": 1, "reason": reason}))
    assert error.field == "extension.reason"
    assert reason not in str(error)
