"""Every case of the bad-input catalogue is refused by the intake parser with its precise 400."""

from __future__ import annotations

import json

import pytest

from dsr.contract import parse_request
from dsr.errors import InvalidRequestError
from dsr.untrusted_json import nesting_depth, parse_untrusted
from tests.app.bad_inputs import CATALOGUE, PERSONAL, BadInput, valid_body

MIN_CASES = 150


def _refusal(case: BadInput) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        parse_request(parse_untrusted(case.raw))
    return caught.value


def test_the_catalogue_is_large_and_its_names_unique():
    names = [case.name for case in CATALOGUE]
    assert len(names) >= MIN_CASES
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda case: case.name)
def test_each_case_is_refused_naming_its_field(case: BadInput):
    error = _refusal(case)
    assert (error.field, error.message[: len(case.message)]) == (case.field, case.message)
    assert PERSONAL not in str(error)


def test_the_valid_body_the_cases_start_from_is_accepted():
    request = parse_request(parse_untrusted(json.dumps(valid_body()).encode()))
    assert request["requestId"] == "catalogue-1"


@pytest.mark.parametrize(
    ("raw", "depth"),
    [(b"[]", 1), (b'{"a": [{}]}', 3), (b'"[[[["', 0), (b'["\\"[["]', 1), (b"1", 0)],
)
def test_nesting_depth_ignores_brackets_inside_strings(raw, depth):
    assert nesting_depth(raw) == depth
