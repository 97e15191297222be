"""Deletion: remove exactly what a request names, prove it by re-listing, and write a receipt.

Each delete unit (a category for one project) enumerates its targets first, deletes them in the
largest batches the API accepts, then verifies by listing again. ``404`` means "already gone" and
counts as deleted, so a retried activity, a queue redelivery or a restarted host never fails on work
an earlier attempt finished. A dry run enumerates and writes the receipt without deleting anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from dsr.categories import Category
from dsr.customvision import TrainingClient
from dsr.customvision.errors import CustomVisionError, NotFoundError
from dsr.export import NOT_ATTRIBUTABLE_NOTE, UnitHandler, prediction_window, run_with_handlers, trained
from dsr.runtime import Runtime
from dsr.storage import put_json
from dsr.subjects import subject_metadata
from dsr.units import ITERATIONS_UNIT, Job, Unit, UnitResult, empty_result

VERIFY_POLL_SECONDS = 2.0
"""Pause between re-lists while an asynchronous (202) delete is still in progress."""

MANUAL_ACTIONS = {
    Category.ACCOUNT_INFO: (
        "The Training API cannot delete account information. Delete the Custom Vision resource in the "
        "Azure portal (or with `az cognitiveservices account delete`); its keys go with it."
    ),
    Category.EXPORTED_MODELS: (
        "The Training API has no operation to delete exported models. They are removed with their "
        "iteration or project, and all of them when the Custom Vision resource is deleted. Copies "
        "already downloaded must be deleted where they were stored."
    ),
}

T = TypeVar("T")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class CallLog:
    """The Training API calls one unit made, with their outcomes, for its receipt."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def run(self, operation: str, target: str, call: Callable[[], T]) -> T | None:
        """Run ``call``; record its outcome. A 404 is recorded as ``alreadyGone`` and returns None."""
        started = time.monotonic()
        outcome = "ok"
        try:
            return call()
        except NotFoundError:
            outcome = "alreadyGone"
            return None
        except CustomVisionError as exc:
            outcome = f"error:{exc.code or type(exc).__name__}"
            raise
        finally:
            self.entries.append(
                {
                    "operation": operation,
                    "target": target,
                    "outcome": outcome,
                    "durationMs": round((time.monotonic() - started) * 1000),
                    "at": _now(),
                }
            )


@dataclass
class Receipt:
    job: Job
    unit: Unit
    started_at: str = field(default_factory=_now)
    targeted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    calls: CallLog = field(default_factory=CallLog)
    verification: dict[str, Any] | None = None
    note: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "requestId": self.job["requestId"],
            "category": self.unit["category"],
            "projectId": self.unit["projectId"],
            "dryRun": self.job["dryRun"],
            "subjectScoped": self.job["subject"] is not None,
            "startedAt": self.started_at,
            "completedAt": _now(),
            "targeted": {"count": len(self.targeted), "ids": self.targeted},
            "deleted": {"count": len(self.deleted), "ids": self.deleted},
            "alreadyGone": {"count": len(self.already_gone), "ids": self.already_gone},
            "calls": self.calls.entries,
            "verification": self.verification,
            "note": self.note,
        }


def receipt_path(job: Job, unit: Unit) -> str:
    scope = unit["projectId"] or "account"
    return f"{job['requestId']}/receipts/{unit['category']}/{scope}.json"


def _finish(receipt: Receipt, runtime: Runtime, counts_name: str) -> UnitResult:
    ref = put_json(runtime.store, receipt_path(receipt.job, receipt.unit), receipt.document())
    result = empty_result(receipt.unit, "succeeded", receipt.note)
    result["counts"] = {
        f"{counts_name}Targeted": len(receipt.targeted),
        f"{counts_name}Deleted": len(receipt.deleted) + len(receipt.already_gone),
    }
    result["files"] = [dict(ref.to_json())]
    result["verified"] = None if receipt.verification is None else bool(receipt.verification["verified"])
    return result


def _dry_run(receipt: Receipt, runtime: Runtime, counts_name: str) -> UnitResult:
    receipt.note = receipt.note or "dry run: nothing was deleted"
    return _finish(receipt, runtime, counts_name)


def _delete_all(receipt: Receipt, operation: str, target: str, call: Callable[[], object]) -> None:
    """One batched delete of every targeted id (the client splits it into API-sized calls)."""
    if receipt.targeted:
        outcome = receipt.calls.run(operation, target, call)
        (receipt.deleted if outcome is not None else receipt.already_gone).extend(receipt.targeted)


def _verify(
    receipt: Receipt, runtime: Runtime, method: str, remaining: Callable[[], list[str]], *, poll: bool
) -> None:
    """Re-list until nothing targeted remains, or (for asynchronous deletes) the deadline passes."""
    deadline = time.monotonic() + (runtime.settings.delete_verify_timeout_seconds if poll else 0.0)
    while True:
        left = remaining()
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(VERIFY_POLL_SECONDS)
    receipt.verification = {
        "verified": not left,
        "method": method,
        "checkedAt": _now(),
        "remaining": {"count": len(left), "ids": left[:256]},
        "note": None if not left else "items still listed when the verification deadline passed",
    }


def _done(call: Callable[[], None]) -> Callable[[], bool]:
    """Wrap a delete that returns nothing, so ``CallLog.run`` tells success (True) from 404 (None)."""

    def run() -> bool:
        call()
        return True

    return run


def _ids(pages: Iterable[Iterable[Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for page in pages:
        for item in page:
            seen[item.id] = None
    return list(seen)


def _delete_images(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    metadata = subject_metadata(job, runtime.store)
    receipt = Receipt(job, unit)

    def enumerate_targets() -> list[str]:
        pages = [client.iter_images(pid, metadata=metadata)]
        # Images stay in trained iterations unless deleted with allIterations: look there too.
        pages += [
            client.iter_images(pid, metadata=metadata, iteration_id=iteration.id)
            for iteration in client.get_iterations(pid)
            if trained(iteration.status)
        ]
        return _ids(page for listing in pages for page in listing)

    receipt.targeted = receipt.calls.run("GetImages", pid, enumerate_targets) or []
    if job["dryRun"]:
        return _dry_run(receipt, runtime, "images")
    _delete_all(
        receipt, "DeleteImages", pid, lambda: client.delete_images(pid, receipt.targeted, all_iterations=True)
    )
    targeted = set(receipt.targeted)

    def remaining() -> list[str]:
        still = [i.id for i in client.get_images_by_ids(pid, receipt.targeted)] if receipt.targeted else []
        still += [i for i in _ids(client.iter_images(pid, metadata=metadata)) if i not in targeted]
        return still

    _verify(receipt, runtime, "GetImagesByIds + GetImages re-list", remaining, poll=True)
    return _finish(receipt, runtime, "images")


def _delete_predictions(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    window = prediction_window(job)
    if window is None:
        return empty_result(unit, "not_attributable", NOT_ATTRIBUTABLE_NOTE)
    application, start, end = window
    receipt = Receipt(job, unit)

    def listing() -> list[str]:
        return _ids(client.iter_predictions(pid, application=application, start_time=start, end_time=end))

    receipt.targeted = receipt.calls.run("QueryPredictions", pid, listing) or []
    if job["dryRun"]:
        return _dry_run(receipt, runtime, "predictions")
    _delete_all(receipt, "DeletePrediction", pid, lambda: client.delete_predictions(pid, receipt.targeted))
    _verify(receipt, runtime, "QueryPredictions re-list", listing, poll=True)
    return _finish(receipt, runtime, "predictions")


def _delete_tags(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    receipt = Receipt(job, unit)
    receipt.targeted = [t.id for t in receipt.calls.run("GetTags", pid, lambda: client.get_tags(pid)) or []]
    if job["dryRun"]:
        return _dry_run(receipt, runtime, "tags")
    for tag_id in receipt.targeted:
        done = receipt.calls.run("DeleteTag", tag_id, _done(partial(client.delete_tag, pid, tag_id)))
        (receipt.deleted if done else receipt.already_gone).append(tag_id)
    _verify(receipt, runtime, "GetTags re-list", lambda: [t.id for t in client.get_tags(pid)], poll=False)
    return _finish(receipt, runtime, "tags")


def _unpublish(receipt: Receipt, client: TrainingClient, pid: str, iteration_ids: list[str]) -> None:
    for iteration_id in iteration_ids:
        receipt.calls.run(
            "UnpublishIteration", iteration_id, partial(client.unpublish_iteration, pid, iteration_id)
        )


def _delete_iterations(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    receipt = Receipt(job, unit)
    iterations = receipt.calls.run("GetIterations", pid, lambda: client.get_iterations(pid)) or []
    receipt.targeted = [it.id for it in iterations]
    published = [it.id for it in iterations if it.publish_name]
    if job["dryRun"]:
        receipt.note = (
            f"dry run: nothing was deleted; {len(published)} published iteration(s) to unpublish first"
        )
        return _dry_run(receipt, runtime, "iterations")
    _unpublish(receipt, client, pid, published)
    for iteration_id in receipt.targeted:
        done = receipt.calls.run(
            "DeleteIteration", iteration_id, _done(partial(client.delete_iteration, pid, iteration_id))
        )
        (receipt.deleted if done else receipt.already_gone).append(iteration_id)
    receipt.note = "DeleteIteration removes iteration details, performance and the iteration list entry"
    _verify(
        receipt,
        runtime,
        "GetIterations re-list",
        lambda: [i.id for i in client.get_iterations(pid)],
        poll=False,
    )
    return _finish(receipt, runtime, "iterations")


def _delete_project(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    receipt = Receipt(job, unit, targeted=[pid])
    if job["dryRun"]:
        return _dry_run(receipt, runtime, "projects")
    # A project with a published iteration cannot be deleted; when only `projects` was requested the
    # iterations phase has not unpublished it, so do that here.
    iterations = receipt.calls.run("GetIterations", pid, lambda: client.get_iterations(pid)) or []
    _unpublish(receipt, client, pid, [it.id for it in iterations if it.publish_name])
    done = receipt.calls.run("DeleteProject", pid, _done(partial(client.delete_project, pid)))
    (receipt.deleted if done else receipt.already_gone).append(pid)

    def remaining() -> list[str]:
        try:
            client.get_project(pid)
        except NotFoundError:
            return []
        return [pid]

    _verify(receipt, runtime, "GetProject returns NotFound", remaining, poll=True)
    return _finish(receipt, runtime, "projects")


def _manual(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    receipt = Receipt(job, unit, note=MANUAL_ACTIONS[Category(unit["category"])])
    ref = put_json(
        runtime.store, receipt_path(job, unit), {**receipt.document(), "manualActionRequired": True}
    )
    result = empty_result(unit, "manual_action_required", receipt.note)
    result["files"] = [dict(ref.to_json())]
    return result


DELETERS: dict[str, UnitHandler] = {
    Category.IMAGES: _delete_images,
    Category.PREDICTIONS: _delete_predictions,
    Category.TAGS: _delete_tags,
    ITERATIONS_UNIT: _delete_iterations,
    Category.PROJECTS: _delete_project,
    Category.ACCOUNT_INFO: _manual,
    Category.EXPORTED_MODELS: _manual,
}


def run_delete_unit(job: Job, unit: Unit, runtime: Runtime) -> UnitResult:
    """Delete (or, in a dry run, enumerate) one unit and write its receipt; raises on failure."""

    def project_gone() -> UnitResult:
        # An earlier attempt, or someone else, deleted the whole project: nothing remains.
        receipt = Receipt(job, unit, note="project no longer exists: nothing left to delete")
        receipt.verification = {
            "verified": True,
            "method": "GetProject returns NotFound",
            "checkedAt": _now(),
            "remaining": {"count": 0, "ids": []},
            "note": None,
        }
        return _finish(receipt, runtime, unit["category"])

    return run_with_handlers(DELETERS, job, unit, runtime, project_gone)
