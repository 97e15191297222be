"""Keeping a data subject's identifiers out of orchestration history.

Durable Functions stores every orchestration input and output until purged. A subject-scoped
request's image metadata (a person's identifier) therefore goes to a private blob before the request
is started (see :mod:`dsr.records`), and activities read it back from there when they need it.
"""

from __future__ import annotations

from dsr.errors import RequestPayloadError
from dsr.storage import ExportStore, get_json
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
