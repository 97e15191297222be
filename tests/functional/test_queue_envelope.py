"""A queue message holds one request, or ``{"requests": [...]}`` and nothing else beside the list."""

from __future__ import annotations

import json

import pytest

from dsr.errors import InvalidRequestError
from triggers.queue_intake import _requests_in

ONE = {"operation": "export", "account": {"endpoint": "https://a.cognitiveservices.azure.com"}}


def test_a_batch_is_its_list():
    assert _requests_in(json.dumps({"requests": [ONE, ONE]}).encode()) == [ONE, ONE]


def test_a_single_request_is_a_list_of_one():
    assert _requests_in(json.dumps(ONE).encode()) == [ONE]


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        # A field beside the list was dropped without a word; a request beside it ran as the inner one.
        ({"requests": [ONE], "callbackUrl": "https://hooks.example.net"}, "callbackUrl"),
        ({"operation": "export", "requests": [{"operation": "delete"}]}, "operation"),
        ({"requests": []}, "requests"),
        ({"requests": ONE}, "requests"),
    ],
)
def test_anything_beside_the_list_is_refused(envelope, field):
    with pytest.raises(InvalidRequestError) as refused:
        _requests_in(json.dumps(envelope).encode())
    assert refused.value.field == field
