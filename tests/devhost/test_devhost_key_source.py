"""Where devhost reads a function key from, as the Functions host does (AuthenticationLevelHandler):
the x-functions-key header when it is there at all, else the ``code`` query parameter in any case."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from devhost.auth import supplied_key


def test_the_code_parameter_is_read_in_any_case():
    assert supplied_key(make_mocked_request("GET", "/api/x?Code=k1")) == "k1"
    assert supplied_key(make_mocked_request("GET", "/api/x?CODE=k2")) == "k2"


def test_a_header_present_but_empty_is_the_key_even_beside_a_code():
    request = make_mocked_request("GET", "/api/x?code=k1", headers={"x-functions-key": ""})
    assert supplied_key(request) == ""


def test_the_header_wins_over_the_code():
    request = make_mocked_request("GET", "/api/x?code=k1", headers={"x-functions-key": "k2"})
    assert supplied_key(request) == "k2"
