"""The metadata $filter builder: values stay literals, keys are identifiers, empty is refused."""

from __future__ import annotations

import pytest

from dsr.customvision.filters import metadata_filter
from dsr.errors import InvalidRequestError


def test_pairs_are_joined_with_and_in_key_order():
    assert metadata_filter({"b": "2", "a": "1"}) == "a eq '1' and b eq '2'"


def test_quotes_in_values_are_doubled():
    assert metadata_filter({"subjectId": "x' or '1' eq '1"}) == "subjectId eq 'x'' or ''1'' eq ''1'"


@pytest.mark.parametrize("key", ["", "a b", "a' or 'x", "1abc", "k=v", "a" * 129])
def test_unsafe_keys_are_refused(key):
    with pytest.raises(InvalidRequestError):
        metadata_filter({key: "v"})


@pytest.mark.parametrize("value", ["a\nb", "x" * 513])
def test_unsafe_values_are_refused(value):
    with pytest.raises(InvalidRequestError):
        metadata_filter({"k": value})


def test_empty_metadata_is_refused_because_it_would_match_everything():
    with pytest.raises(InvalidRequestError):
        metadata_filter({})
