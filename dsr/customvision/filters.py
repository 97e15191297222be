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

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")  # 128: the 3.4-preview metadata key limit
MAX_VALUE_LENGTH = 512  # v3.3 metadata value limit
_FIELD = "metadata"
KEY_RULE = "keys must be identifiers: a letter or _, then letters, digits or _ (at most 128)"
VALUE_RULE = f"values must be printable text of 1-{MAX_VALUE_LENGTH} characters"


def metadata_problem(metadata: Mapping[str, object]) -> str | None:
    """Why ``metadata`` cannot be matched exactly by a filter, or None. The one rule for intake and here.

    Keys cannot be quoted in the ``$filter`` grammar, so they must be plain identifiers; values may
    hold anything printable (no control characters such as newline or NUL).
    """
    for key, value in metadata.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            return KEY_RULE
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_VALUE_LENGTH or not value.isprintable():
            return VALUE_RULE
    return None


def quote_literal(value: str) -> str:
    """Return ``value`` as an OData string literal."""
    return "'" + value.replace("'", "''") + "'"


def metadata_filter(metadata: Mapping[str, str]) -> str:
    """``key1 eq 'v1' and key2 eq 'v2'`` for exact matches on every pair (keys in sorted order)."""
    if not metadata:
        # An empty filter would match every image; for a delete that is the whole project.
        raise InvalidRequestError(_FIELD, "at least one metadata pair is required")
    problem = metadata_problem(metadata)
    if problem is not None:
        raise InvalidRequestError(_FIELD, problem)
    return " and ".join(f"{key} eq {quote_literal(metadata[key])}" for key in sorted(metadata))
