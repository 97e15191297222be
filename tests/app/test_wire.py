"""The wire contract's status document matches the published schema, key by key, in both directions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dsr.wire import CategoryEntry, StatusDocument

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text())


def keys(typed: Any) -> tuple[set[str], set[str]]:
    """(required, optional) keys of a TypedDict."""
    return set(typed.__required_keys__), set(typed.__optional_keys__)


def schema_keys(node: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(required, optional) properties of an object schema."""
    required = set(node["required"])
    return required, set(node["properties"]) - required


@pytest.mark.parametrize(
    ("typed", "node"),
    [(StatusDocument, SCHEMA), (CategoryEntry, SCHEMA["$defs"]["categoryEntry"])],
    ids=["StatusDocument", "CategoryEntry"],
)
def test_typed_dict_and_schema_name_the_same_keys(typed, node):
    typed_required, typed_optional = keys(typed)
    schema_required, schema_optional = schema_keys(node)
    assert typed_required == schema_required
    assert typed_optional == schema_optional
    assert node["additionalProperties"] is False  # so a key the TypedDict lacks would be refused
