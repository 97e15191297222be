"""Parsing JSON from callers (HTTP bodies, queue messages) with the limits checked *before* parsing.

Python's ``json`` recurses once per nesting level, so 20,000 ``[`` raise ``RecursionError`` deep inside
the parser; it also lets the last of two duplicate keys win silently and accepts ``NaN``. Here the size
and the nesting depth are measured on the raw text first, and duplicate keys and non-standard constants
are refused, each as an :class:`InvalidRequestError` on ``body`` that never echoes the input.
"""

from __future__ import annotations

import json
from typing import Any

from dsr.errors import InvalidRequestError

MAX_BODY_BYTES = 64 * 1024
"""Largest request body or queue message accepted (a queue message is at most 64 KiB anyway)."""
MAX_DEPTH = 16
"""Deepest nesting of arrays and objects; a valid request needs 4."""

_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of ``[``/``{`` outside string literals (no parsing, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSERS:
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise InvalidRequestError("body", "must not repeat a key within one object")
        document[key] = value
    return document


def _no_constant(_: str) -> Any:
    raise InvalidRequestError("body", "must be standard JSON (no NaN or Infinity)")


def parse_untrusted(raw: bytes, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``raw`` as strict JSON (UTF-8), or raise :class:`InvalidRequestError` naming ``body``."""
    if len(raw) > max_bytes:
        raise InvalidRequestError("body", f"must be at most {max_bytes} bytes")
    if nesting_depth(raw) > max_depth:
        raise InvalidRequestError("body", f"must not nest arrays or objects more than {max_depth} deep")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError("body", "must be UTF-8 encoded JSON") from exc
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ValueError as exc:
        raise InvalidRequestError("body", "must be valid JSON") from exc


_LINE_BREAKS = frozenset("\r\n\t")


def is_plain_text(value: str, *, lines: bool = False) -> bool:
    """Whether a caller's free text holds only printable characters (and line breaks, if ``lines``).

    Control characters and bidi overrides (``U+202E``) would let a stored name or comment read as
    something else than what was sent, in a log line or on a status page.
    """
    return all(ch.isprintable() or (lines and ch in _LINE_BREAKS) for ch in value)
