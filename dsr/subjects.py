"""A subject-scoped request: what identifies its data subject, kept out of orchestration history, and
how it narrows stored predictions (which carry no image metadata).

Durable Functions stores every orchestration input and output until purged. A subject-scoped
request's image metadata (a person's identifier) therefore goes to a private blob before the request
is started (see :mod:`dsr.records`), and activities read it back from there when they need it.
"""

from __future__ import annotations

from datetime import datetime

from dsr.errors import RequestPayloadError
from dsr.storage import ExportStore, get_json
from dsr.times import parse_time
from dsr.units import Job


def subject_metadata(job: Job, store: ExportStore) -> dict[str, str] | None:
    """The metadata that identifies the job's data subject, or None for an account-wide job."""
    subject = job["subject"]
    if subject is None:
        return None
    if subject["metadata"] is not None:
        return subject["metadata"]
    if subject["metadataFile"] is None:
        raise RequestPayloadError(job["requestId"], "subject")
    metadata = get_json(store, subject["metadataFile"])
    if not isinstance(metadata, dict) or not metadata:
        raise RequestPayloadError(job["requestId"], "subject")
    return {str(key): str(value) for key, value in metadata.items()}


def prediction_window(job: Job) -> tuple[str | None, datetime | None, datetime | None] | None:
    """The caller's narrowing of stored predictions, or ``None`` when a subject request gave none."""
    if job["subject"] is None:
        return (None, None, None)
    narrowing = job["subject"]["predictions"]
    if narrowing is None:
        return None

    def moment(value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            return parse_time(value)  # as the contract wrote it when it accepted the request
        except ValueError:
            raise RequestPayloadError(job["requestId"], "subject") from None

    return narrowing.get("application"), moment(narrowing.get("from")), moment(narrowing.get("to"))


NOT_ATTRIBUTABLE_NOTE = (
    "Stored predictions carry no image metadata, so they cannot be matched to a data subject. "
    "Give subject.predictions (application and/or from/to) to include the predictions you can attribute."
)
