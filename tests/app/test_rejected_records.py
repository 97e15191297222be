"""A refused queue item's record (``intake/rejected/``) names the refused field without its data.

The item is kept redacted (:func:`dsr.records.redacted_item`): a key that is not a field name may be
data, an e-mail address, and is kept as ``<redacted key N>``. The record's ``field`` and ``reason``
name the same key the same way, so the record still says which part of the item was refused.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest

import triggers.queue_intake as queue_intake
from dsr import records
from dsr.config import load_settings
from tests.app.bad_inputs import PERSONAL, valid_body
from tests.functional.fakes import MemoryStore

BASE = {"DSR_STORAGE_CONNECTION": "UseDevelopmentStorage=true", "DSR_KEY_VAULT_URL": "https://vault.example"}


@pytest.fixture
def intake(monkeypatch):
    """Send one queue message to the intake function; answer the records it wrote, in item order."""
    store = MemoryStore()
    monkeypatch.setattr(queue_intake, "get_runtime", lambda: SimpleNamespace(store=store))
    monkeypatch.setattr(queue_intake, "get_settings", lambda: load_settings(BASE))
    handler = queue_intake.intake_queue.build().get_user_function().__wrapped__

    def send(body: Any) -> list[dict[str, Any]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        asyncio.run(handler(func.QueueMessage(id="m-1", body=raw), None))  # no item gets to the client
        written = [json.loads(store.get_bytes(ref.path)) for ref in store.list_files("intake/rejected/")]
        return sorted(written, key=lambda record: record["index"] or 0)

    return send


def _only(records: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(records) == 1, records
    assert PERSONAL not in json.dumps(records[0])
    return records[0]


def test_an_unknown_key_that_is_data_is_named_as_the_item_names_it(intake):
    # Before: "field": "jane.doe@example.com" (and the reason with it) beside the redacted item.
    record = _only(intake(valid_body(**{PERSONAL: "x"})))
    assert record["field"] == "<redacted key 1>"
    assert record["reason"] == "InvalidRequestError: <redacted key 1>: unknown field"
    assert "<redacted key 1>" in record["item"]


def test_a_field_is_named_with_the_number_its_key_has_in_the_item():
    # pydantic names the first unknown key of a dict; the numbering must still be the item's own.
    item = {"account": {"x@y.example": 1, "endpoint": "e", PERSONAL: 2}, "a b": 3}
    kept = records.redacted_item(item)
    assert set(kept["account"]) == {"<redacted key 1>", "endpoint", "<redacted key 2>"}
    assert records.redacted_field(item, f"account.{PERSONAL}") == "account.<redacted key 2>"
    assert records.redacted_field(item, "account.x@y.example") == "account.<redacted key 1>"
    assert records.redacted_field(item, "a b") == "<redacted key 1>"
    # A key with dots in it is one key, not a path.
    assert records.redacted_field({"a.b": {"c": 1}}, "a.b.c") == "<redacted key 1>.c"
    # A path the item does not hold (a field that is required, say) is kept only if it is field names:
    # there, which of its dots part keys cannot be told.
    assert records.redacted_field(item, "account.trainingKeySecret") == "account.trainingKeySecret"
    assert records.redacted_field(item, f"account.missing.{PERSONAL}") == "account.<redacted>"
    assert records.redacted_field(b"raw", PERSONAL) == "<redacted>"
    assert records.redacted_field(b"raw", "body") == "body"
    assert records.redacted_field(item, None) is None


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ({"subject": {"metadata": {"k": "v"}, PERSONAL: 1}}, "subject.<redacted key 1>"),
        (
            {"subject": {"metadata": {"k": "v"}, "predictions": {"application": "a", PERSONAL: 1}}},
            "subject.predictions.<redacted key 1>",
        ),
    ],
)
def test_a_nested_key_is_redacted_within_its_path(intake, where, field):
    record = _only(intake(valid_body(**where)))
    assert record["field"] == field
    assert record["reason"].startswith(f"InvalidRequestError: {field}: ")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # Field names and list positions are not data: they stay as the refusal named them.
        (valid_body(subjectEmail=PERSONAL), "subjectEmail"),
        (valid_body(categories=["images", PERSONAL]), "categories.1"),
        (valid_body(account={"endpoint": PERSONAL, "trainingKeySecret": "k"}), "account.endpoint"),
        (
            valid_body(account={"endpoint": "https://west.cognitiveservices.azure.com"}),
            "account.trainingKeySecret",
        ),
        (valid_body(subject={"metadata": {PERSONAL: "v"}}), "subject.metadata"),
        (
            valid_body(subject={"metadata": {"k": "v"}, "predictions": {"from": PERSONAL}}),
            "subject.predictions.from",
        ),
        ({"account": valid_body()["account"]}, "operation"),
        ([PERSONAL], "body"),
    ],
)
def test_field_names_and_positions_are_kept(intake, body, field):
    record = _only(intake(body))
    assert record["field"] == field
    assert record["reason"].startswith(f"InvalidRequestError: {field}: ")


def test_each_item_of_a_batch_is_named_within_itself(intake):
    batch = [valid_body(operation="erase"), valid_body(**{PERSONAL: 1}), valid_body(surprise=1)]
    written = intake({"requests": batch})
    assert [(r["index"], r["field"]) for r in written] == [
        (0, "operation"),
        (1, "<redacted key 1>"),
        (2, "surprise"),
    ]
    assert PERSONAL not in json.dumps(written)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # The message is kept as its size and hash only: a key beside the batch has nothing to be named by.
        ({"requests": [valid_body()], PERSONAL: 1}, "<redacted>"),
        ({"requests": [valid_body()], "callbackUrl": "https://hooks.example.net"}, "callbackUrl"),
        ({"requests": []}, "requests"),
        (b"not json " + PERSONAL.encode(), "body"),
    ],
)
def test_a_refused_message_names_its_field_without_its_data(intake, body, field):
    record = _only(intake(body))
    assert record["index"] is None
    assert record["field"] == field
    assert set(record["item"]) == {"bytes", "sha256"}
