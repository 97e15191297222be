"""Keeping a data subject's identifiers out of orchestration history.

Durable Functions stores every orchestration input and output until purged. A subject-scoped
request's image metadata (a person's identifier) therefore goes to a private blob before the request
is started, and activities read it back from there when they need it.
"""

from __future__ import annotations

from dsr.contract import DsrRequest
from dsr.storage import ExportStore, get_json, put_json
from dsr.units import Job


def subject_path(request_id: str) -> str:
    return f"{request_id}/request/subject.json"


def stash_subject(request: DsrRequest, store: ExportStore) -> DsrRequest:
    """A copy of ``request`` whose subject metadata lives in a blob instead of in the request."""
    subject = request["subject"]
    if subject is None or subject["metadata"] is None:
        return request
    path = put_json(store, subject_path(request["requestId"]), subject["metadata"]).path
    return {**request, "subject": {**subject, "metadata": None, "metadataFile": path}}


def subject_metadata(job: Job, store: ExportStore) -> dict[str, str] | None:
    """The metadata that identifies the job's data subject, or None for an account-wide job."""
    subject = job["subject"]
    if subject is None:
        return None
    if subject["metadata"] is not None:
        return subject["metadata"]
    if subject["metadataFile"] is None:
        raise ValueError("subject scope without metadata")
    metadata = get_json(store, subject["metadataFile"])
    return {str(key): str(value) for key, value in metadata.items()}
