"""Signed links out of exported records: a package handed to a person must not carry credentials.

The Training API returns image, thumbnail and model URIs with a Shared Access Signature in the query
string (``…?sv=…&sig=…``): anyone holding one can read the customer's storage until it expires. Every
exported record goes through :func:`unsigned` first, which keeps the link's path (it still names the
blob) but drops the query, and lists the fields it changed in :data:`REMOVED_FIELD`, so a reader knows
the link was removed on purpose. The bytes behind the links are copied into the package instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

REMOVED_FIELD = "signedLinksRemoved"
"""Record field listing the (dotted) fields whose signed query string was removed."""
SIGNATURE_PARAMETERS = frozenset({"sig", "signature", "x-amz-signature", "x-goog-signature"})
"""Query parameters that make a link a credential (Azure SAS ``sig``; the other clouds' equivalents)."""


def is_signed(value: str) -> bool:
    """Whether ``value`` is an http(s) URL whose query carries a signature parameter."""
    if not value.startswith(("https://", "http://")) or "?" not in value:
        return False
    query = urlsplit(value).query
    return any(name.lower() in SIGNATURE_PARAMETERS for name, _ in parse_qsl(query, keep_blank_values=True))


def without_query(value: str) -> str:
    """The link with its query string and fragment removed."""
    parts = urlsplit(value)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _strip(value: Any, path: str, removed: list[str]) -> Any:
    if isinstance(value, str):
        if is_signed(value):
            removed.append(path)
            return without_query(value)
        return value
    if isinstance(value, dict):
        return {
            key: _strip(item, f"{path}.{key}" if path else str(key), removed) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_strip(item, f"{path}[]", removed) for item in value]
    return value


def unsigned(document: Any) -> Any:
    """A copy of ``document`` without signed query strings.

    A dict (one record) gets :data:`REMOVED_FIELD` naming what changed; a list is taken as a list of
    records, each marked on its own.
    """
    if isinstance(document, list):
        return [unsigned(item) for item in document]
    if not isinstance(document, dict):
        return document
    removed: list[str] = []
    cleaned = _strip(document, "", removed)
    if removed:
        cleaned[REMOVED_FIELD] = sorted(set(removed))
    return cleaned
