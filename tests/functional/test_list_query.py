"""``GET /api/requests`` query parameters: read strictly, refused as a 400 naming the parameter."""

from __future__ import annotations

import azure.functions as func
import pytest

from dsr.errors import InvalidRequestError
from triggers.http_api import _list_query


def _get(params: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest("GET", "http://localhost/api/requests", params=params, body=b"")


SUPERSCRIPT_TWO, FULLWIDTH_50, ARABIC_INDIC_50 = "\u00b2", "\uff15\uff10", "\u0665\u0660"


@pytest.mark.parametrize(
    "size", ["0", "1001", "-1", "1.5", " 5", SUPERSCRIPT_TWO, FULLWIDTH_50, ARABIC_INDIC_50, "1_0"]
)
def test_a_page_size_must_be_ascii_digits_in_range(size):
    # str.isdigit() takes a superscript two (int() then fails: a 500) and fullwidth or Arabic-Indic digits.
    with pytest.raises(InvalidRequestError) as refused:
        _list_query(_get({"pageSize": size}))
    assert refused.value.field == "pageSize"


def test_a_page_size_in_range_is_read():
    assert _list_query(_get({"pageSize": "50"}))["page_size"] == 50
