"""``GET /api/requests`` query parameters: read strictly, refused as a 400 naming the parameter."""

from __future__ import annotations

import azure.functions as func
import pytest

from dsr.errors import InvalidRequestError
from triggers.http_api import _list_query, _status_url


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


def test_the_function_key_parameter_is_read_in_any_case_as_the_host_reads_it():
    # The Functions host accepts ?Code= (ASP.NET query names are case-insensitive); the list refused
    # it as unknown and the status URL dropped it, so pollers were answered 401.
    assert _list_query(_get({"Code": "k", "pageSize": "5"}))["page_size"] == 5
    request = func.HttpRequest("POST", "http://host/api/requests", params={"Code": "k 1"}, body=b"")
    assert _status_url(request, "r1") == "http://host/api/requests/r1?code=k+1"
