"""A canceled request's status document: what ran before an operator stopped it, and who stopped it.

Pure functions. The cancellation (who, why, when) travels as the Durable termination reason, so the
terminated instance itself remembers it; deletion receipts already written stay in Blob Storage and are
listed in the document, so a canceled delete still shows exactly what it removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dsr import layout
from dsr.status import canceled
from dsr.storage import FileRef
from dsr.wire import StatusDocument

MAX_CANCELED_BY_LENGTH = 128
MAX_CANCEL_REASON_LENGTH = 1000
CANCELED_ERROR = "the request was canceled by an operator"
TERMINATED_ERROR = "the request was terminated by an operator"
"""Terminated outside this API (Durable's own terminate): no cancellation record to show."""


def termination_reason(at: str, by: str | None, reason: str | None) -> str:
    """The Durable termination reason that carries the cancellation record."""
    return json.dumps({"cancellation": {"at": at, "by": by, "reason": reason}}, separators=(",", ":"))


def cancellation_from(output: Any) -> dict[str, Any] | None:
    """The cancellation record in a terminated instance's output (its termination reason), if any."""
    value = output
    for _ in range(2):  # the reason may arrive JSON-encoded once more as a string
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return None
    if not isinstance(value, dict) or not isinstance(value.get("cancellation"), dict):
        return None
    record = value["cancellation"]
    return {"at": record.get("at"), "by": record.get("by"), "reason": record.get("reason")}


def canceled_document(
    document: StatusDocument, cancellation: dict[str, Any] | None, receipts: Iterable[FileRef]
) -> StatusDocument:
    """``document`` (as far as the request got) marked canceled, with the receipts written so far.

    Categories still pending or running become ``skipped``; finished ones keep their state.
    """
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for ref in receipts:
        unit = layout.unit_of_receipt(document["requestId"], ref.path)
        by_unit.setdefault(unit, []).append(dict(ref.to_json()))
    error = CANCELED_ERROR if cancellation else TERMINATED_ERROR
    return canceled(document, cancellation, error, by_unit)
