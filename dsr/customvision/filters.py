"""Builds the GetImages ``$filter`` expression for image metadata.

Values are data-subject identifiers chosen by whoever uploaded the images, so they are untrusted: a value
is always a single-quoted literal with embedded quotes doubled, and keys (which cannot be quoted in the
grammar) must match a conservative identifier pattern. A value like ``x' or '1' eq '1`` therefore stays one
literal and matches only itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dsr.errors import InvalidRequestError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")  # 128: the 3.4-preview metadata key limit
MAX_VALUE_LENGTH = 512  # v3.3 metadata value limit
_FIELD = "metadata"


def quote_literal(value: str) -> str:
    """Return ``value`` as an OData string literal."""
    return "'" + value.replace("'", "''") + "'"


def metadata_filter(metadata: Mapping[str, str]) -> str:
    """``key1 eq 'v1' and key2 eq 'v2'`` for exact matches on every pair (keys in sorted order)."""
    if not metadata:
        # An empty filter would match every image; for a delete that is the whole project.
        raise InvalidRequestError(_FIELD, "at least one metadata pair is required")
    clauses = []
    for key in sorted(metadata):
        value = metadata[key]
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidRequestError(_FIELD, "metadata keys must be identifiers (letters, digits, _)")
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH or not value.isprintable():
            raise InvalidRequestError(f"{_FIELD}.{key}", "value must be printable text of at most 512 chars")
        clauses.append(f"{key} eq {quote_literal(value)}")
    return " and ".join(clauses)
