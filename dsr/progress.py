"""How far a request's units of one project each have got, for the status document while they run.

A category's entry gets its counts when all its units have finished; an export of 100,000 images
runs for many minutes before that. So each call of a unit of one project (an export's images, page
by page, or predictions) records the counts its unit has reported so far, and a delete unit also
records, while it deletes, how many of its targets it has deleted, in the metadata of one empty blob
per unit and attempt (:func:`dsr.layout.unit_progress`). A status poll of a running request lists
its attempt's in one listing and shows their sums as the running categories' counts. Counts only:
no id, name or other personal data.
"""

from __future__ import annotations

import json
import logging

from dsr import layout
from dsr.errors import DsrError
from dsr.status import current_attempt, with_progress
from dsr.storage import ExportStore, StorageUnavailableError
from dsr.units import Job, UnitResult, job_attempt
from dsr.wire import StatusDocument

log = logging.getLogger(__name__)

COUNTS_METADATA_KEY = "counts"
DELETE_PROGRESS_SECONDS = 2.0
"""How often, at most, a delete unit records how many of its targets it has deleted so far."""
LIST_PAGE_SIZE = 1000


def record_progress(store: ExportStore, job: Job, so_far: dict[str, int], result: UnitResult) -> None:
    """Keep what the unit of ``result`` has counted so far: ``so_far`` (its earlier calls) and this call."""
    counts = dict(so_far)
    for name, value in result["counts"].items():
        counts[name] = counts.get(name, 0) + value
    record_unit_counts(store, job, result["category"], result["projectId"], counts)


def record_unit_counts(
    store: ExportStore, job: Job, category: str, project_id: str | None, counts: dict[str, int]
) -> None:
    """Keep ``counts`` with what the unit recorded before in this attempt, the larger of each.

    Counts only grow within an attempt, and a delete unit has two writers that each know only their
    own: the activity after each call (its calls), the unit while it deletes (its items). A write
    that fails costs only the polls until the next one: the unit's work goes on.
    """
    path = layout.unit_progress(job["requestId"], job_attempt(job), category, project_id)
    try:
        # Nothing else under this path sorts before it, so a page of one is the file, if it exists.
        items, _ = store.list_page(path, 1, None)
        merged = dict(_counts_of(items[0][1]) or {}) if items and items[0][0] == path else {}
        for name, value in counts.items():
            merged[name] = max(merged.get(name, 0), value)
        metadata = {COUNTS_METADATA_KEY: json.dumps(merged, separators=(",", ":"), sort_keys=True)}
        store.put_bytes(path, b"", "application/octet-stream", metadata=metadata)
    except StorageUnavailableError:
        log.warning("request %s: the progress of %s was not recorded", job["requestId"], category)


def _counts_of(metadata: dict[str, str]) -> dict[str, int] | None:
    """The counts a progress file holds; None if they are not ours (a poll shows nothing of them)."""
    try:
        counts = json.loads(metadata.get(COUNTS_METADATA_KEY, "{}"))
    except ValueError:
        return None
    if not isinstance(counts, dict):
        return None
    return {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)}


def progress_by_unit(store: ExportStore, request_id: str, attempt: int) -> dict[str, dict[str, int]]:
    """The counts the units of one attempt of the request have reported so far, summed per unit name."""
    sums: dict[str, dict[str, int]] = {}
    token: str | None = None
    folder = layout.progress_folder(request_id, attempt)
    while True:
        items, token = store.list_page(folder, LIST_PAGE_SIZE, token)
        for path, metadata in items:
            counts = _counts_of(metadata)
            if counts is None:
                continue
            total = sums.setdefault(layout.unit_of_progress(request_id, attempt, path), {})
            for name, value in counts.items():
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
