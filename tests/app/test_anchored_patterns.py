"""Patterns that guard ids and names match the whole value: ``re.match`` with ``$`` lets a trailing
newline through (issue 8, defect 6), ``fullmatch`` does not."""

from __future__ import annotations

import pytest

from dsr.customvision.client import _check_uuid
from dsr.customvision.filters import metadata_filter
from dsr.errors import InvalidRequestError
from dsr.secrets import validate_secret_name, validate_secret_version

PROJECT = "0f4c3d2e-1b2a-4c3d-8e9f-001122334455"


@pytest.mark.parametrize(
    "check",
    [
        lambda: validate_secret_name("cv-key\n"),
        lambda: validate_secret_version("0" * 32 + "\n"),
        lambda: _check_uuid(PROJECT + "\n", "projectId"),
        lambda: metadata_filter({"subjectId\n": "s-1"}),
        lambda: metadata_filter({"subjectId": "s-1\n"}),
    ],
    ids=["secret-name", "secret-version", "uuid", "metadata-key", "metadata-value"],
)
def test_a_trailing_newline_is_refused(check):
    with pytest.raises(InvalidRequestError):
        check()


def test_the_same_values_without_the_newline_pass():
    validate_secret_name("cv-key")
    validate_secret_version("0" * 32)
    assert _check_uuid(PROJECT, "projectId") == PROJECT
    assert metadata_filter({"subjectId": "s-1"}) == "subjectId eq 's-1'"
