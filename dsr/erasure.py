"""Deletion: remove exactly what a request names, prove it by re-listing, and write a receipt.

Each delete unit (a category for one project) plans first: it lists its targets and the steps that
delete them (in the largest batches the API accepts, published iterations unpublished first). The plan
and then each step go to the unit's journal (:mod:`dsr.journal`) before the step is sent, so a unit
that is retried, resumed after a crash or called again after its time budget continues where it was,
and its receipt counts every deletion exactly once. After the last step the unit verifies by listing
again. ``404`` means "already gone" and counts as such. A dry run plans and writes the receipt
without deleting anything.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from dsr import layout
from dsr.categories import Category
from dsr.customvision import (
    MAX_IMAGE_IDS_PER_CALL,
    MAX_PREDICTION_IDS_PER_CALL,
    BadRequestError,
    CallRecord,
    NotFoundError,
    TrainingClient,
    observe_calls,
)
from dsr.errors import PermanentError
from dsr.journal import CallEntry, DeleteJournal, JournalState, Plan, Step, StepOutcome
from dsr.progress import DELETE_PROGRESS_SECONDS, record_unit_counts
from dsr.runtime import Runtime
from dsr.storage import JSON_CONTENT_TYPE, ExportStore, FileRef, StoredFileNotFoundError, get_json, put_json
from dsr.subjects import NOT_ATTRIBUTABLE_NOTE, prediction_window, subject_metadata
from dsr.times import precise_now
from dsr.unit_runner import UnitHandler, iteration_gone, run_with_handlers, trained
from dsr.units import ITERATIONS_UNIT, Job, Unit, UnitResult, empty_result, job_attempt

VERIFY_POLL_SECONDS = 2.0
"""Pause between re-lists while an asynchronous (202) delete is still in progress."""
RESUME_CURSOR = "resume"
"""The ``next`` of a delete unit that stopped at its time budget: call again, the journal knows where."""
NOT_PUBLISHED_CODE = "BadRequestIterationNotPublished"
CANCELED_BEFORE_START = "canceled before this unit began: nothing was deleted"
DEADLINE_PASSED_NOTE = "items still listed when the verification deadline passed"

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


def _now() -> str:
    return precise_now()


def _entries(records: list[CallRecord]) -> list[CallEntry]:
    """Move the calls observed so far into receipt entries (emptying ``records``)."""
    at = _now()
    entries: list[CallEntry] = [
        {
            "operation": r.operation,
            "status": r.status,
            "attempts": r.attempts,
            "durationMs": r.duration_ms,
            "at": at,
        }
        for r in records
    ]
    records.clear()
    return entries


@dataclass(frozen=True)
class Planned:
    targeted: list[str]
    steps: list[Step]
    note: str | None = None
    verify_scopes: list[str | None] | None = None
    """Kept in the plan when verification must repeat exactly the listings the plan chose."""


@dataclass(frozen=True)
class DeleteSpec:
    """What one kind of delete unit does; :func:`_run_journaled` does the rest."""

    plan: Callable[[], Planned]
    run_step: Callable[[Step], StepOutcome]
    remaining: Callable[[Plan], list[str]]
    """Re-list: the targeted ids (or, for a scope, any ids) still there."""
    method: str
    poll: bool
    """Whether deletes finish asynchronously (202), so verification polls until a deadline."""


COUNTED: dict[str, tuple[str, str]] = {
    Category.IMAGES: ("images", "DeleteImages"),
    Category.PREDICTIONS: ("predictions", "DeletePrediction"),
    Category.TAGS: ("tags", "DeleteTag"),
    ITERATIONS_UNIT: ("iterations", "DeleteIteration"),
    Category.PROJECTS: ("projects", "DeleteProject"),
}
"""Per delete unit: the name of its counts and the step operation whose ids count as deleted (other
steps, like unpublishing, only prepare it)."""


def receipt_path(job: Job, unit: Unit) -> str:
    return layout.receipt(job["requestId"], unit["category"], unit["projectId"])


@dataclass(frozen=True)
class _Writer:
    """What a receipt says about the request, and the attempt of it, that wrote it."""

    request_id: str
    dry_run: bool
    subject_scoped: bool
    attempt: int


def _receipt(
    job: Job, unit: Unit, state: JournalState, verification: dict[str, Any] | None
) -> dict[str, Any]:
    writer = _Writer(job["requestId"], job["dryRun"], job["subject"] is not None, job_attempt(job))
    return _receipt_document(writer, unit, state, verification)


def _delete_operation(unit: Unit) -> str | None:
    return COUNTED[unit["category"]][1] if unit["category"] in COUNTED else None


def _sent_deletes(unit: Unit, state: JournalState) -> tuple[list[str], list[str]]:
    """The ids of the unit's delete steps sent so far: deleted, and found gone already."""
    delete_operation = _delete_operation(unit)
    deleted: list[str] = []
    gone: list[str] = []
    for record in state.steps:
        if record.index >= len(state.plan["steps"]) or record.checkpoint or record.refused_by is not None:
            continue  # the closing entry, a step a stop (time budget, cancel) left unsent, a refused one
        step = state.plan["steps"][record.index]
        if step["operation"] == delete_operation:
            (gone if record.outcome == "gone" else deleted).extend(step["ids"])
    return deleted, gone


def _receipt_document(
    writer: _Writer, unit: Unit, state: JournalState, verification: dict[str, Any] | None
) -> dict[str, Any]:
    deleted, gone = _sent_deletes(unit, state)
    return {
        "requestId": writer.request_id,
        "category": unit["category"],
        "projectId": unit["projectId"],
        "dryRun": writer.dry_run,
        "subjectScoped": writer.subject_scoped,
        "startedAt": state.plan["startedAt"],
        "completedAt": _now(),
        "targeted": {"count": len(state.plan["targeted"]), "ids": state.plan["targeted"]},
        "deleted": {"count": len(deleted), "ids": deleted},
        "alreadyGone": {"count": len(gone), "ids": gone},
        "calls": state.all_calls(),
        "journal": {
            "steps": len(state.plan["steps"]),
            "resentSteps": sum(1 for record in state.steps if record.resent),
        },
        "verification": verification,
        "note": state.plan["note"],
        "attempt": writer.attempt,
    }


def _finish(
    job: Job, unit: Unit, document: dict[str, Any], runtime: Runtime, path: str | None = None
) -> UnitResult:
    ref = put_json(runtime.store, path or receipt_path(job, unit), document)
    return _receipt_result(unit, document, ref)


@dataclass(frozen=True)
class _StoredReceipt:
    document: dict[str, Any]
    ref: FileRef

    @property
    def attempt(self) -> int:
        """The attempt that wrote it (receipts from before attempts were recorded: the first)."""
        return int(self.document.get("attempt", 1))


def _latest_receipt(job: Job, unit: Unit, runtime: Runtime) -> _StoredReceipt | None:
    """The unit's newest receipt: one a later attempt wrote when it verified again, else its own."""
    again = [
        layout.attempt_receipt(job["requestId"], unit["category"], unit["projectId"], attempt)
        for attempt in range(job_attempt(job), 1, -1)
    ]
    for path in [*again, receipt_path(job, unit)]:
        try:
            data = runtime.store.get_bytes(path)
        except StoredFileNotFoundError:
            continue
        ref = FileRef(path, len(data), hashlib.sha256(data).hexdigest(), JSON_CONTENT_TYPE)
        return _StoredReceipt(json.loads(data), ref)
    return None


def _verifies_again(job: Job, receipt: _StoredReceipt) -> bool:
    """Whether this attempt verifies a unit whose receipt an earlier attempt wrote with items still
    listed at the verification deadline: the service may have finished those deletes since."""
    verification = receipt.document["verification"]
    return (
        verification is not None and verification["verified"] is False and receipt.attempt < job_attempt(job)
    )


def _unverified_before(job: Job, unit: Unit, runtime: Runtime) -> _StoredReceipt | None:
    """The earlier attempt's unverified receipt this attempt verifies again, if any."""
    if job_attempt(job) == 1:
        return None
    receipt = _latest_receipt(job, unit, runtime)
    return receipt if receipt is not None and _verifies_again(job, receipt) else None


def _finished(job: Job, unit: Unit, runtime: Runtime) -> UnitResult | None:
    """The result of a unit that already wrote its receipt (an earlier attempt, or an activity retried
    after it finished), from that receipt; None if it has not finished, or verifies again now.

    Running it again would re-verify and rewrite the receipt, and the copy the first attempt sealed
    into the chain (which keeps it) would then say something else than the status document. A unit
    verified again writes a receipt of its own (:func:`_write_receipt`).
    """
    receipt = _latest_receipt(job, unit, runtime)
    if receipt is None or _stopped_short(receipt) or _verifies_again(job, receipt):
        return None
    return _receipt_result(unit, receipt.document, receipt.ref)


def _stopped_short(receipt: _StoredReceipt) -> bool:
    """Whether a receipt was written before its unit verified (a cancel stopped it): run the unit.
    A dry run's receipt has no verification either, but it is complete: a dry run verifies nothing."""
    return receipt.document["verification"] is None and not receipt.document.get("dryRun")


def _write_receipt(
    job: Job,
    unit: Unit,
    runtime: Runtime,
    state: JournalState,
    verification: dict[str, Any],
    earlier: _StoredReceipt | None,
) -> UnitResult:
    """Write the receipt of a unit that verified. One that verified again after ``earlier`` (unverified)
    goes beside it, with every call the unit made in every attempt; ``earlier`` stays as it was sealed."""
    document = _receipt(job, unit, state, verification)
    if earlier is None:
        return _finish(job, unit, document, runtime)
    now = state.verify_calls if state.verify_attempt > earlier.attempt else []  # else in ``earlier``
    document["calls"] = [*earlier.document["calls"], *now]
    left = earlier.document["verification"]["remaining"]["count"]
    again = (
        f"verified again by attempt {job_attempt(job)}: attempt {earlier.attempt}'s receipt "
        f"({posixpath.basename(earlier.ref.path)}) had {left} item(s) still listed"
    )
    document["verification"] = {
        **verification,
        "note": "; ".join(filter(None, [again, verification["note"]])),
    }
    path = layout.attempt_receipt(job["requestId"], unit["category"], unit["projectId"], job_attempt(job))
    return _finish(job, unit, document, runtime, path)


def _counts(unit: Unit, targeted: int, deleted: int) -> dict[str, int]:
    """A delete unit's counts: ``deleted`` includes the targets found gone already."""
    name = COUNTED[unit["category"]][0]
    return {f"{name}Targeted": targeted, f"{name}Deleted": deleted}


class _Progress:
    """Records how far a unit of one project has got while it deletes, for status polls
    (:mod:`dsr.progress`), at most every :data:`DELETE_PROGRESS_SECONDS`; its last call's counts come
    with its result, which the activity records."""

    def __init__(self, job: Job, unit: Unit, runtime: Runtime) -> None:
        self._job, self._unit, self._store = job, unit, runtime.store
        self._last: float | None = None

    def report(self, state: JournalState) -> None:
        if self._unit["projectId"] is None:  # account-wide: its entry shows when it ends
            return
        now = time.monotonic()
        if self._last is not None and now - self._last < DELETE_PROGRESS_SECONDS:
            return
        self._last = now
        deleted, gone = _sent_deletes(self._unit, state)
        counts = _counts(self._unit, len(state.plan["targeted"]), len(deleted) + len(gone))
        record_unit_counts(self._store, self._job, self._unit["category"], self._unit["projectId"], counts)


def _receipt_result(unit: Unit, document: dict[str, Any], ref: FileRef) -> UnitResult:
    result = empty_result(unit, "succeeded", document["note"])
    deleted = document["deleted"]["count"] + document["alreadyGone"]["count"]
    result["counts"] = _counts(unit, document["targeted"]["count"], deleted)
    result["files"] = [dict(ref.to_json())]
    verification = document["verification"]
    result["verified"] = None if verification is None else bool(verification["verified"])
    return result


def _empty_plan(note: str) -> Plan:
    return {"startedAt": _now(), "targeted": [], "steps": [], "calls": [], "note": note}


def _to_be_continued(unit: Unit) -> UnitResult:
    result = empty_result(unit, "succeeded")
    result["next"] = RESUME_CURSOR
    return result


def _run_journaled(job: Job, unit: Unit, runtime: Runtime, spec: DeleteSpec) -> UnitResult:
    """Plan, delete step by step and verify, journaling as it goes; stop at the time budget."""
    scope = layout.unit_scope(unit["projectId"])
    journal = DeleteJournal(runtime.store, layout.journal_root(job["requestId"], unit["category"], scope))
    deadline = time.monotonic() + runtime.settings.unit_time_budget_seconds
    with observe_calls() as observed:
        state = journal.load()
        if state is None:
            if _canceled(job, runtime):
                return empty_result(unit, "failed", CANCELED_BEFORE_START)
            planned = spec.plan()
            plan: Plan = {
                "startedAt": _now(),
                "targeted": planned.targeted,
                "steps": [] if job["dryRun"] else planned.steps,
                "calls": _entries(observed),
                "note": planned.note,
            }
            if planned.verify_scopes is not None:
                plan["verifyScopes"] = planned.verify_scopes
            if job["dryRun"]:
                plan["note"] = planned.note or "dry run: nothing was deleted"
                return _finish(job, unit, _receipt(job, unit, JournalState(plan, []), None), runtime)
            state = journal.write_plan(plan)
        steps = state.plan["steps"]
        progress = _Progress(job, unit, runtime)
        progress.report(state)
        sent = 0
        while (index := state.next_index) < len(steps):
            entered = bool(state.steps) and state.steps[-1].index == index
            resent = entered and state.unanswered is not None  # not a checkpoint, not refused
            # A step sent before without an answer is finished first: its ids may be half-deleted,
            # and only its outcome tells the receipt which. Durable cannot stop a running activity.
            # A cancel is looked for before the time budget: a unit that paused now would not be
            # called again (the request is terminated) and would leave no receipt.
            if not resent and _canceled(job, runtime):
                if not entered:
                    journal.begin_step(state, index, checkpoint=True)  # keeps the last step's outcome
                note = f"canceled: {len(steps) - index} of {len(steps)} step(s) were not sent"
                state.plan["note"] = " ".join(filter(None, [state.plan["note"], note]))
                return _finish(job, unit, _receipt(job, unit, state, None), runtime)
            if sent and time.monotonic() >= deadline:  # at least one step per call: always progress
                journal.begin_step(state, index, checkpoint=True)  # keeps the previous step's outcome
                return _to_be_continued(unit)
            if not entered:
                journal.begin_step(state, index)
            elif not resent:
                journal.confirm_sending(state)
            try:
                outcome = spec.run_step(steps[index])
            except PermanentError as exc:
                return _refused(job, unit, runtime, journal, state, exc, resent=resent)
            record = state.steps[-1]
            # Our own unconfirmed step found done already: the earlier attempt of this unit did it.
            record.outcome = "done" if resent and outcome == "gone" else outcome
            record.resent = resent
            record.calls = [*record.calls, *_entries(observed)]
            sent += 1
            progress.report(state)
        if steps and state.steps[-1].index < len(steps):
            journal.begin_step(state, len(steps))  # closing entry: keeps the last step's outcome
        earlier = _unverified_before(job, unit, runtime)
        if earlier is not None and state.verify_attempt < job_attempt(job):
            # Verify again, with a deadline of its own. The calls the journal keeps are in the
            # earlier receipt if its attempt made them; an attempt since that did not finish is not.
            if state.verify_attempt <= earlier.attempt:
                state.verify_calls = []
            state.verify_started_at, state.verify_attempt = None, job_attempt(job)
        verification = _verify(
            journal, state, spec, runtime, observed, deadline, lambda: _canceled(job, runtime)
        )
        if verification is None:
            return _to_be_continued(unit)
    return _write_receipt(job, unit, runtime, state, verification, earlier)


def _refused(
    job: Job,
    unit: Unit,
    runtime: Runtime,
    journal: DeleteJournal,
    state: JournalState,
    exc: PermanentError,
    *,
    resent: bool,
) -> UnitResult:
    """The unit failed: the service refused a step (a 4xx answer, so that step did nothing).

    The steps before it did delete, so the unit writes a receipt of them (beside its own receipt
    path, see :func:`dsr.layout.partial_receipt`) and fails with it; its journal still ends at the
    refused step, which a retry sends again before it completes the unit and writes its own receipt.
    The refusal goes to the journal first: a retry then sends the step as new (not as its own
    unconfirmed step, whose 404 would count as deleted), and a cancel before that retry knows this
    receipt covers the unit, even after a crash before it was written.
    """
    journal.refuse_step(state, job_attempt(job))
    refused = state.steps[-1].index
    total = len(state.plan["steps"])
    note = f"failed at step {refused + 1} of {total} ({type(exc).__name__}): the steps before it are listed"
    if resent:  # an earlier call sent it and heard nothing back: the service may have done it then
        note += f"; step {refused + 1} was sent once before without an answer, so its ids may be gone too"
    plan: Plan = {**state.plan, "note": " ".join(filter(None, [state.plan["note"], note]))}
    so_far = JournalState(plan, state.steps[:-1])
    path = layout.partial_receipt(
        job["requestId"], unit["category"], unit["projectId"], refused, job_attempt(job)
    )
    result = _finish(job, unit, _receipt(job, unit, so_far, None), runtime, path)
    result["state"], result["note"], result["verified"] = "failed", f"{type(exc).__name__}: {exc}", None
    return result


def _canceled(job: Job, runtime: Runtime) -> bool:
    """Whether an operator canceled this attempt of the request (one small read, before each step).

    A marker names the attempt it canceled: one whose termination did not take (the attempt ended
    first) must not stop the retry that follows. One without it (written before markers named it)
    stops any attempt."""
    try:
        marker = json.loads(runtime.store.get_bytes(layout.cancel_marker(job["requestId"])))
    except StoredFileNotFoundError:
        return False
    attempt = marker.get("attempt") if isinstance(marker, dict) else None
    return attempt is None or attempt == job_attempt(job)


def _verify(
    journal: DeleteJournal,
    state: JournalState,
    spec: DeleteSpec,
    runtime: Runtime,
    observed: list[CallRecord],
    budget_deadline: float,
    canceled: Callable[[], bool],
) -> dict[str, Any] | None:
    """Re-list until nothing targeted remains or (for asynchronous deletes) the deadline passes.

    Returns None when the unit's time budget ran out first; the journal keeps when verification began,
    so the deadline is the same for the next call.
    """
    started = time.time() if state.verify_started_at is None else state.verify_started_at
    wait = runtime.settings.delete_verify_timeout_seconds if spec.poll else 0.0
    stopped = False
    while True:
        left = spec.remaining(state.plan)
        state.verify_calls.extend(_entries(observed))
        if not left or time.time() >= started + wait:
            break
        if canceled():  # it deletes nothing more: report what is still listed now
            stopped = True
            break
        if time.monotonic() + VERIFY_POLL_SECONDS >= budget_deadline:
            journal.save_verification(state, started)
            return None
        time.sleep(VERIFY_POLL_SECONDS)
    note = None
    if left:
        note = "canceled while items were still listed" if stopped else DEADLINE_PASSED_NOTE
    return {
        "verified": not left,
        "method": spec.method,
        "checkedAt": _now(),
        "remaining": {"count": len(left), "ids": left[:256]},
        "note": note,
    }


def _batches(operation: str, ids: list[str], size: int) -> list[Step]:
    return [{"operation": operation, "ids": ids[i : i + size]} for i in range(0, len(ids), size)]


def _ids(pages: Any) -> list[str]:
    seen: dict[str, None] = {}
    for page in pages:
        for item in page:
            seen[item.id] = None
    return list(seen)


def _step_runner(actions: dict[str, Callable[[list[str]], object]]) -> Callable[[Step], StepOutcome]:
    """Run a step with the action for its operation; 404 is ``gone``, not-published is ``tolerated``."""

    def run(step: Step) -> StepOutcome:
        try:
            actions[step["operation"]](step["ids"])
        except NotFoundError:
            return "gone"
        except BadRequestError as exc:
            if exc.code != NOT_PUBLISHED_CODE:
                raise
            return "tolerated"
        return "done"

    return run


def _list_iterations(job: Job, runtime: Runtime, client: TrainingClient, pid: str) -> list[dict[str, Any]]:
    """List the project's iterations (``id``, ``status``, ``publishName``) and keep the listing."""
    listed = [
        {"id": it.id, "status": it.status, "publishName": it.publish_name}
        for it in client.get_iterations(pid)
    ]
    put_json(runtime.store, layout.iteration_listing(job["requestId"], pid), listed)
    return listed


def _listed_iterations(job: Job, runtime: Runtime, client: TrainingClient, pid: str) -> list[dict[str, Any]]:
    """The project's iterations as this request last listed them, or a new listing if it has not.

    The images unit lists them when it plans (after any approval wait, so an iteration trained
    meanwhile is searched too); the iterations unit, two phases later, deletes from that listing
    rather than listing again, and its verifying re-list reports any iteration created since.
    """
    try:
        listed: list[dict[str, Any]] = get_json(
            runtime.store, layout.iteration_listing(job["requestId"], pid)
        )
    except StoredFileNotFoundError:
        return _list_iterations(job, runtime, client, pid)
    return listed


def _delete_images(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    metadata = subject_metadata(job, runtime.store)

    def listing(scope: str | None) -> list[str]:
        return _ids(client.iter_images(pid, metadata=metadata, iteration_id=scope))

    def plan() -> Planned:
        iterations = _list_iterations(job, runtime, client, pid)  # fresh: search what is there now
        targeted = listing(None)
        seen = set(targeted)
        scopes: list[str | None] = [None]
        # Images stay in trained iterations unless deleted with allIterations: look there too. Page
        # by page, so an iteration's listing is never held whole beside the workspace's.
        for iteration in iterations:
            if not trained(iteration["status"]):
                continue
            before = len(targeted)
            for page in client.iter_images(pid, metadata=metadata, iteration_id=iteration["id"]):
                for image in page:
                    if image.id not in seen:
                        seen.add(image.id)
                        targeted.append(image.id)
            if len(targeted) > before:
                scopes.append(iteration["id"])  # it held images no listing before it showed
        steps = _batches("DeleteImages", targeted, MAX_IMAGE_IDS_PER_CALL)
        return Planned(targeted, steps, verify_scopes=scopes)

    def remaining(plan: Plan) -> list[str]:
        # DeleteImages?allIterations removes an image from every iteration with the workspace, so the
        # workspace re-list proves it for every image it listed; an iteration that held images the
        # workspace did not is re-listed for those. A journal from before verifyScopes: every scope.
        scopes = plan.get("verifyScopes")
        if scopes is None:
            listed = _listed_iterations(job, runtime, client, pid)
            scopes = [None, *(it["id"] for it in listed if trained(it["status"]))]
        return list(dict.fromkeys(i for scope in scopes for i in still_listed(scope)))

    def still_listed(scope: str | None) -> list[str]:
        try:
            return listing(scope)
        except NotFoundError as exc:
            # An iteration deleted since the plan (a retry after the iterations unit ran) holds
            # nothing any more; a missing project is the unit runner's "project gone".
            if scope is None or not iteration_gone(exc):
                raise
            return []

    spec = DeleteSpec(
        plan=plan,
        run_step=_step_runner(
            {"DeleteImages": lambda ids: client.delete_images(pid, ids, all_iterations=True)}
        ),
        remaining=remaining,
        method="GetImages re-list of the workspace and of each iteration that held images it did not",
        poll=True,
    )
    return _run_journaled(job, unit, runtime, spec)


def _delete_predictions(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    window = prediction_window(job)
    if window is None:
        return empty_result(unit, "not_attributable", NOT_ATTRIBUTABLE_NOTE)
    application, start, end = window

    def listing() -> list[str]:
        return _ids(client.iter_predictions(pid, application=application, start_time=start, end_time=end))

    def plan() -> Planned:
        targeted = listing()
        return Planned(targeted, _batches("DeletePrediction", targeted, MAX_PREDICTION_IDS_PER_CALL))

    spec = DeleteSpec(
        plan=plan,
        run_step=_step_runner({"DeletePrediction": lambda ids: client.delete_predictions(pid, ids)}),
        remaining=lambda _: listing(),
        method="QueryPredictions re-list",
        poll=True,
    )
    return _run_journaled(job, unit, runtime, spec)


def _delete_tags(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None

    def plan() -> Planned:
        targeted = [t.id for t in client.get_tags(pid)]
        return Planned(targeted, _batches("DeleteTag", targeted, 1))

    spec = DeleteSpec(
        plan=plan,
        run_step=_step_runner({"DeleteTag": lambda ids: client.delete_tag(pid, ids[0])}),
        remaining=lambda _: [t.id for t in client.get_tags(pid)],
        method="GetTags re-list",
        poll=False,
    )
    return _run_journaled(job, unit, runtime, spec)


def _iteration_actions(client: TrainingClient, pid: str) -> dict[str, Callable[[list[str]], object]]:
    return {
        "UnpublishIteration": lambda ids: client.unpublish_iteration(pid, ids[0]),
        "DeleteIteration": lambda ids: client.delete_iteration(pid, ids[0]),
        "DeleteProject": lambda ids: client.delete_project(ids[0]),
    }


def _delete_iterations(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None

    def plan() -> Planned:
        iterations = _listed_iterations(job, runtime, client, pid)
        targeted = [it["id"] for it in iterations]
        published = [it["id"] for it in iterations if it["publishName"]]
        note = "DeleteIteration removes iteration details, performance and the iteration list entry"
        if job["dryRun"]:
            note = f"dry run: nothing was deleted; {len(published)} published iteration(s) to unpublish first"
        steps = _batches("UnpublishIteration", published, 1) + _batches("DeleteIteration", targeted, 1)
        return Planned(targeted, steps, note)

    spec = DeleteSpec(
        plan=plan,
        run_step=_step_runner(_iteration_actions(client, pid)),
        remaining=lambda _: [i.id for i in client.get_iterations(pid)],
        method="GetIterations re-list",
        poll=False,
    )
    return _run_journaled(job, unit, runtime, spec)


def _iterations_deleted(job: Job, runtime: Runtime, pid: str) -> bool:
    """Whether this request's iterations unit for the project verified that no iteration is left."""
    iterations: Unit = {"category": ITERATIONS_UNIT, "projectId": pid, "cursor": None}
    receipt = _latest_receipt(job, iterations, runtime)
    return receipt is not None and bool((receipt.document["verification"] or {}).get("verified"))


def _delete_project(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None

    def plan() -> Planned:
        if job["dryRun"]:
            return Planned([pid], [])
        # A project with a published iteration cannot be deleted. After this request's iterations
        # unit verified that none are left there is nothing to unpublish; otherwise (only `projects`
        # requested, or that unit failed) list them and unpublish here.
        published: list[str] = []
        if not _iterations_deleted(job, runtime, pid):
            published = [it.id for it in client.get_iterations(pid) if it.publish_name]
        return Planned(
            [pid], _batches("UnpublishIteration", published, 1) + _batches("DeleteProject", [pid], 1)
        )

    def remaining(_: Plan) -> list[str]:
        try:
            client.get_project(pid)
        except NotFoundError:
            return []
        return [pid]

    spec = DeleteSpec(
        plan=plan,
        run_step=_step_runner(_iteration_actions(client, pid)),
        remaining=remaining,
        method="GetProject returns NotFound",
        poll=True,
    )
    return _run_journaled(job, unit, runtime, spec)


def _manual(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    note = MANUAL_ACTIONS[Category(unit["category"])]
    nothing = JournalState(_empty_plan(note), [])
    document = {**_receipt(job, unit, nothing, None), "manualActionRequired": True}
    ref = put_json(runtime.store, receipt_path(job, unit), document)
    result = empty_result(unit, "manual_action_required", note)
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
    """Delete (or, in a dry run, enumerate) one unit and write its receipt; raises on failure.

    Returns a result with ``next`` set when the unit stopped at its time budget: call it again.
    """

    def project_gone() -> UnitResult:
        # Someone (or this request's own earlier attempt) deleted the whole project: nothing remains.
        # What this unit's journal recorded before that still counts.
        scope = layout.unit_scope(unit["projectId"])
        root = layout.journal_root(job["requestId"], unit["category"], scope)
        state = DeleteJournal(runtime.store, root).load()
        if state is None:
            note = "project no longer exists: nothing left to delete"
            state = JournalState(
                {"startedAt": _now(), "targeted": [], "steps": [], "calls": [], "note": note}, []
            )
        verification = {
            "verified": True,
            "method": "GetProject returns NotFound",
            "checkedAt": _now(),
            "remaining": {"count": 0, "ids": []},
            "note": None,
        }
        return _write_receipt(job, unit, runtime, state, verification, _unverified_before(job, unit, runtime))

    finished = _finished(job, unit, runtime)
    if finished is not None:
        finished["counts"] = {**finished["counts"], "apiCalls": 0, "throttled": 0}
        return finished
    return run_with_handlers(DELETERS, job, unit, runtime, project_gone)


# -- after a cancel ---------------------------------------------------------------------------------

STOPPED_UNIT_NOTE = (
    "written by the cancel from this unit's journal: the unit was not running when the request was "
    "canceled (paused at its time budget, or cut short by a crash), so it could not write its own"
)
FAILED_UNIT_NOTE = (
    "written from this unit's journal after its last retry failed; what it confirmed deleted is listed, "
    "the ids of a step sent without an answer under unconfirmed; a retry of the category completes it"
)


def _without_receipt(store: ExportStore, request_id: str) -> tuple[set[str], list[tuple[Unit, str]]]:
    """The request's receipt paths, and the delete units that planned but have no receipt yet (their
    own or a cancel's), each with its journal root."""
    written = {ref.path for ref in store.list_files(layout.receipts_prefix(request_id))}
    units: list[tuple[Unit, str]] = []
    for ref in sorted(store.list_files(layout.journals_prefix(request_id)), key=lambda ref: ref.path):
        found = layout.unit_of_plan(request_id, ref.path)
        if found is None:
            continue
        own, stopped = layout.receipt(request_id, *found), layout.stopped_receipt(request_id, *found)
        if own not in written and stopped not in written:
            units.append(
                ({"category": found[0], "projectId": found[1], "cursor": None}, layout.folder_of(ref.path))
            )
    return written, units


def unfinished_plans(store: ExportStore, request_id: str) -> list[str]:
    """The journal plans of delete units that have no receipt yet, their own or a cancel's."""
    return [layout.journal_plan(root) for _, root in _without_receipt(store, request_id)[1]]


def write_stopped_receipts(
    store: ExportStore, request_id: str, *, subject_scoped: bool, attempt: int
) -> list[FileRef]:
    """Write, for each delete unit of a canceled request that has planned but written no receipt,
    one from its journal (:func:`dsr.layout.stopped_receipt`): what it confirmed deleted, and apart
    (``unconfirmed``) the ids of a step it sent without hearing the answer.

    A unit whose journal still ends at a step the service refused, not sent since, already has the
    receipt of what came before it (:func:`dsr.layout.partial_receipt`), and gets none here; one that
    sent the refused step again (a retry) and was cut short gets one, with that step ``unconfirmed``.
    """
    writer = _Writer(request_id, False, subject_scoped, attempt)  # a dry run journals nothing
    refs = []
    written, units = _without_receipt(store, request_id)
    for unit, root in units:
        state = DeleteJournal(store, root).load()
        if state is None or _refusal_receipted(request_id, unit, state, written):
            continue
        document = _journal_receipt(writer, unit, state, STOPPED_UNIT_NOTE)
        path = layout.stopped_receipt(request_id, unit["category"], unit["projectId"])
        refs.append(put_json(store, path, document))
    return refs


def _journal_receipt(writer: _Writer, unit: Unit, state: JournalState, note: str) -> dict[str, Any]:
    """The receipt of a unit that stopped without writing its own, from its journal: what it confirmed
    deleted, and apart (``unconfirmed``) the ids of a step it sent without hearing the answer."""
    sent = state.unanswered
    document = _receipt_document(
        writer, unit, replace(state, steps=state.steps[:-1]) if sent else state, None
    )
    step = state.plan["steps"][sent.index] if sent else None
    unconfirmed = step["ids"] if step and step["operation"] == _delete_operation(unit) else []
    document["unconfirmed"] = {"count": len(unconfirmed), "ids": unconfirmed}
    document["note"] = " ".join(filter(None, [state.plan["note"], note]))
    return document


def write_failed_receipt(job: Job, unit: Unit, runtime: Runtime, error: str) -> UnitResult:
    """The failed result of a delete unit whose activity ran out of retries, with a receipt of what
    its journal shows it deleted (:func:`dsr.layout.failed_receipt`); none if it had not planned.

    A refused step (4xx) writes its receipt itself (:func:`_refused`); this is for the failures that
    raise instead: transient errors to the last retry, a host lost each time. A retry of the category
    resumes the unit from the same journal and writes the unit's own receipt.
    """
    result = empty_result(unit, "failed", error)
    root = layout.journal_root(job["requestId"], unit["category"], layout.unit_scope(unit["projectId"]))
    state = DeleteJournal(runtime.store, root).load()
    if state is None or job["dryRun"]:
        return result
    writer = _Writer(job["requestId"], False, job["subject"] is not None, job_attempt(job))
    document = _journal_receipt(writer, unit, state, f"gave up on the unit ({error}): {FAILED_UNIT_NOTE}")
    path = layout.failed_receipt(job["requestId"], unit["category"], unit["projectId"], job_attempt(job))
    written = _receipt_result(unit, document, put_json(runtime.store, path, document))
    return {**written, "state": "failed", "note": error, "verified": None}


def _refusal_receipted(request_id: str, unit: Unit, state: JournalState, written: set[str]) -> bool:
    """Whether the unit's journal ends at a refused step (not sent since) whose ``to-step`` receipt,
    by the attempt the service refused, was written: it lists what the unit deleted. The journal
    records the refusal first, so a crash before that receipt leaves it to the cancel."""
    last = state.steps[-1] if state.steps else None
    if last is None or last.refused_by is None:
        return False
    path = layout.partial_receipt(
        request_id, unit["category"], unit["projectId"], last.index, last.refused_by
    )
    return path in written
