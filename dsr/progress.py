"""How far a request's units of one project each have got, for the status document while they run.

A category's entry gets its counts when all its units have finished; an export of 100,000 images
runs for many minutes before that. So each call of a unit of one project (an export's images, page
by page, or predictions; a delete unit, whose counts come when it finishes) records the counts its
unit has reported so far, in the metadata of one empty blob per unit and attempt
(:func:`dsr.layout.unit_progress`), and a status poll of a running request lists its attempt's in one
listing and shows their sums as the running categories' counts. Counts only: no id, name or other
personal data.
"""

from __future__ import annotations

import json
import logging

from dsr import layout
from dsr.errors import DsrError
from dsr.status import current_attempt, with_progress
from dsr.storage import ExportStore
from dsr.units import Job, UnitResult, job_attempt
from dsr.wire import StatusDocument

log = logging.getLogger(__name__)

COUNTS_METADATA_KEY = "counts"
LIST_PAGE_SIZE = 1000


def record_progress(store: ExportStore, job: Job, so_far: dict[str, int], result: UnitResult) -> None:
    """Keep what the unit of ``result`` has counted so far: ``so_far`` (its earlier calls) and this call."""
    counts = dict(so_far)
    for name, value in result["counts"].items():
        counts[name] = counts.get(name, 0) + value
    path = layout.unit_progress(job["requestId"], job_attempt(job), result["category"], result["projectId"])
    metadata = {COUNTS_METADATA_KEY: json.dumps(counts, separators=(",", ":"), sort_keys=True)}
    store.put_bytes(path, b"", "application/octet-stream", metadata=metadata)


def progress_by_unit(store: ExportStore, request_id: str, attempt: int) -> dict[str, dict[str, int]]:
    """The counts the units of one attempt of the request have reported so far, summed per unit name."""
    sums: dict[str, dict[str, int]] = {}
    token: str | None = None
    folder = layout.progress_folder(request_id, attempt)
    while True:
        items, token = store.list_page(folder, LIST_PAGE_SIZE, token)
        for path, metadata in items:
            try:
                counts = json.loads(metadata.get(COUNTS_METADATA_KEY, "{}"))
            except ValueError:
                counts = None
            if not isinstance(counts, dict):
                continue  # not ours: shows nothing rather than failing the poll
            total = sums.setdefault(layout.unit_of_progress(request_id, attempt, path), {})
            for name, value in counts.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    total[name] = total.get(name, 0) + value
        if token is None:
            return sums


def with_progress_so_far(store: ExportStore, document: StatusDocument) -> StatusDocument:
    """A running request's ``document`` with what the units of its current attempt have reported so
    far; as it is when that cannot be read: a poll does not fail for want of its progress."""
    attempt = current_attempt(document)
    try:
        by_unit = progress_by_unit(store, document["requestId"], attempt)
    except DsrError as exc:
        log.warning("request %s: progress not shown (%s)", document["requestId"], type(exc).__name__)
        return document
    return with_progress(document, by_unit)
