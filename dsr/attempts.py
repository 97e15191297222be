"""Retrying a finished request: only its failed categories (and a delete's unverified ones) run again,
under the same request id.

Pure functions that turn a finished run (its Durable input and final status document) into the input
of the next attempt. The categories that did not fail travel along unchanged ("carried"), so the new
run's document is complete from its first progress report, and ``attempts`` keeps every earlier run.
"""

from __future__ import annotations

from dsr.errors import RequestConflictError
from dsr.wire import AttemptRecord, RequestInput, StatusDocument

RETRYABLE_STATES = frozenset({"failed", "partially_succeeded", "succeeded"})
"""A succeeded request is retried only for a delete category whose deletion was not verified."""


def categories_to_retry(document: StatusDocument) -> list[str]:
    """The categories of a finished request that run again, in document order: those that failed, and
    a delete's that finished with items still listed at the verification deadline (``verified`` false),
    whose units then verify again what the service may have finished since."""
    return [
        name
        for name, entry in document["categories"].items()
        if entry["state"] == "failed" or entry.get("verified") is False
    ]


def _attempt_record(stored_input: RequestInput, document: StatusDocument) -> AttemptRecord:
    retry = stored_input.get("retry")
    ran = retry["categories"] if retry else list(document["categories"])
    return {
        "attempt": retry["attempt"] if retry else 1,
        "state": document["state"],
        "startedAt": retry["startedAt"] if retry else document["receivedAt"],
        "completedAt": document["completedAt"],
        "categories": {name: document["categories"][name]["state"] for name in ran},
    }


def retry_input(stored_input: RequestInput, document: StatusDocument, now: str) -> RequestInput:
    """The orchestration input of the next attempt of a finished request.

    Raises :class:`RequestConflictError` when the request did not fail (nothing to retry). Approval is
    not asked again: the decision recorded for the request covers re-running its categories.
    """
    request_id = document["requestId"]
    failed = categories_to_retry(document)
    if document["state"] not in RETRYABLE_STATES or not failed:
        raise RequestConflictError(
            request_id,
            f"nothing to retry: the request ended {document['state']}, no category failed or is unverified",
        )
    attempts = [*document.get("attempts", []), _attempt_record(stored_input, document)]
    return {
        "request": stored_input["request"],
        "receivedAt": stored_input["receivedAt"],
        "approval": {"required": False},
        "retry": {
            "attempt": len(attempts) + 1,
            "startedAt": now,
            "categories": failed,
            "attempts": attempts,
            "carried": {n: e for n, e in document["categories"].items() if n not in failed},
            "approval": document.get("approval"),
            "projects": document.get("projects", []),
        },
    }
