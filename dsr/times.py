"""How the app writes a moment: one format for documents, one (to the microsecond) for receipts.

Status documents, records, manifests and links carry UTC to the second (:data:`TIME_FORMAT`, the
``date-time`` of ``docs/status.schema.json``); deletion receipts, their journal entries and the
receipt chain carry microseconds (:data:`PRECISE_TIME_FORMAT`), since one unit makes many calls a
second. Pure: orchestrators may import it.
"""

from __future__ import annotations

from datetime import UTC, datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PRECISE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(moment: datetime) -> str:
    """``moment`` (a UTC time) in :data:`TIME_FORMAT`."""
    return moment.strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """The UTC moment a :data:`TIME_FORMAT` string names."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def precise_now() -> str:
    """Now, in :data:`PRECISE_TIME_FORMAT`."""
    return datetime.now(UTC).strftime(PRECISE_TIME_FORMAT)
