"""Retention: copies of personal data are deleted when their purpose is served; records stay.

Everything in the export container is a working copy — export files (and a zip, if any), subject and
callback payloads, delete journals, the working copies of receipts — and is deleted
``DSR_EXPORT_RETENTION_DAYS`` (default 30) after it was written; rejected queue items
(``intake/rejected/``) after ``DSR_REJECTED_RETENTION_DAYS`` (default 7). Receipts, status documents,
request records and approval decisions live in the records container and are never touched here.

In Azure a Blob lifecycle management policy (``infra/app/storage.bicep``) deletes by the same rule;
Azurite has no lifecycle engine, so the app also runs :func:`purge_expired` on a timer trigger. Both
count age from the blob's creation time. When the purge deletes a request's files it records when and
why in that request's status document; the document says from the start when its files expire
(:func:`retention_terms`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from dsr import layout
from dsr.config import Settings
from dsr.record_store import RecordStore
from dsr.status import with_expiry
from dsr.storage import BlobExportStore, StorageUnavailableError, get_json, put_json
from dsr.times import format_time, parse_time
from dsr.wire import StatusDocument

PURGE_PAGE_SIZE = 200
"""Blobs per listing page of the purge (the service's maximum is 5,000). One page of deserialised
blob properties is what the purge holds, about 13.5 KiB a blob (traced): 2.7 MiB at this size, added
to the peak of any request running in the worker when the timer fires. The cost is list calls, which
are not rate-limited: 500 per run for 100,000 blobs."""


def _reason(settings: Settings) -> str:
    return (
        f"retention policy: files in the export container are deleted {settings.export_retention_days:g} "
        "day(s) after they were written (DSR_EXPORT_RETENTION_DAYS); receipts and this document stay"
    )


def retention_terms(received_at: str, settings: Settings) -> dict[str, Any]:
    """The ``retention`` block of a finished request's status document: when its files expire."""
    received = parse_time(received_at)
    return {
        "days": settings.export_retention_days,
        "expiresAt": format_time(received + timedelta(days=settings.export_retention_days)),
        "policy": _reason(settings),
        "expired": None,
    }


class ExportContainer(BlobExportStore):
    """The export container, seen by the purge: blob names with their creation times, and deletes."""

    def created(self) -> Iterator[tuple[str, datetime]]:
        """Every blob's name and creation time, one listing page at a time as the caller goes: the
        container holds every export's files, so listing it whole first would hold them all at once."""
        self._ensure_container()
        try:
            for page in self._container.list_blobs(results_per_page=PURGE_PAGE_SIZE).by_page():
                for blob in page:
                    yield blob.name, blob.creation_time
        except AzureError as exc:
            raise StorageUnavailableError("could not list the export container") from exc

    def delete(self, path: str) -> bool:
        """Delete one blob (and its snapshots); False when it was already gone."""
        try:
            self._container.delete_blob(path, delete_snapshots="include")
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise StorageUnavailableError(f"could not delete {path!r}") from exc
        return True


@dataclass
class PurgeReport:
    """What one purge run deleted."""

    files_deleted: int = 0
    rejected_deleted: int = 0
    requests_expired: list[str] = field(default_factory=list)
    """Requests whose status document now records the expiry."""


def purge_expired(
    exports: ExportContainer, records: RecordStore, settings: Settings, now: datetime
) -> PurgeReport:
    """Delete what has outlived its retention period; note it in the affected status documents."""
    export_cutoff = now - timedelta(days=settings.export_retention_days)
    rejected_cutoff = now - timedelta(days=settings.rejected_retention_days)
    report = PurgeReport()
    per_request: dict[str, int] = {}
    for name, created in exports.created():
        if name.startswith(layout.REJECTED_PREFIX):
            if created < rejected_cutoff and exports.delete(name):
                report.rejected_deleted += 1
        elif created < export_cutoff and exports.delete(name):
            report.files_deleted += 1
            request_id = layout.request_of(name)
            per_request[request_id] = per_request.get(request_id, 0) + 1
    for request_id, count in sorted(per_request.items()):
        if _note_expiry(records, request_id, count, settings, now):
            report.requests_expired.append(request_id)
    return report


def _note_expiry(
    records: RecordStore, request_id: str, count: int, settings: Settings, now: datetime
) -> bool:
    path = layout.status(request_id)
    if not records.exists(path):  # not a request (or one still running): nothing to note
        return False
    document: StatusDocument = get_json(records, path)
    terms = retention_terms(document["receivedAt"], settings)
    expired = with_expiry(document, terms, format_time(now), _reason(settings), count)
    put_json(records, path, expired)  # in Azure a new version; the earlier ones stay
    return True
