"""Delete units under interruption: the journal makes receipts exact whatever was cut short (issue 8)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from dsr import layout
from dsr.customvision import ClientOptions, ForbiddenError, TrainingClient
from dsr.erasure import (
    RESUME_CURSOR,
    STOPPED_UNIT_NOTE,
    receipt_path,
    run_delete_unit,
    unfinished_plans,
    write_failed_receipt,
    write_stopped_receipts,
)
from dsr.layout import cancel_marker
from dsr.storage import get_json
from dsr.units import Job
from emulator.seed import _Ids, add_images
from tests.functional.conftest import SPEC, World, item_counts, unit
from tests.functional.fakes import CrashingStore, MemoryStore, SimulatedCrash

IMAGES = 834
"""Four DeleteImages batches of 256: 256 + 256 + 256 + 66."""


class CrashingClient(TrainingClient):
    """A real client whose host dies at the ``crash_at``-th call of ``operation``: just before sending it,
    or (``after_send``) right after the service did it."""

    def __init__(self, *args: Any, operation: str, crash_at: int, after_send: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._operation, self._crash_at, self._after_send, self._seen = operation, crash_at, after_send, 0

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        crash = operation == self._operation and (seen := self._seen + 1) == self._crash_at
        if operation == self._operation:
            self._seen = seen
        if crash and not self._after_send:
            raise SimulatedCrash(operation)
        response = super()._call(operation, *args, **kwargs)
        if crash:
            raise SimulatedCrash(operation)
        return response


def _big_project(world: World) -> str:
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    add_images(
        project, IMAGES - len(project.images), _Ids(random.Random(5)), random.Random(6), spec=SPEC, tag_ids=[]
    )
    return pid


def _install(world: World, runtime, client_class: type[TrainingClient], **behaviour: Any) -> None:
    """Serve ``runtime``'s units with a ``client_class`` client that behaves as ``behaviour`` says."""
    client = client_class(
        world.server.base_url,
        world.key,
        options=ClientOptions(rate_limit_per_second=1000),
        allow_list=runtime.allow_list,
        **behaviour,
    )
    runtime.use_client(world.job("delete")["account"], client)


@pytest.mark.parametrize("crash_at", [2, 3, 4])
def test_a_delete_cut_short_mid_batch_reports_every_image_it_deleted(world: World, crash_at: int):
    pid = _big_project(world)
    all_ids = set(world.account.projects[pid].images)
    runtime = world.runtime()
    _install(world, runtime, CrashingClient, operation="DeleteImages", crash_at=crash_at)
    job, images = world.job("delete"), unit("images", pid)
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, images, runtime)
    assert world.account.projects[pid].images  # the crash came before the delete finished
    runtime._clients.clear()  # the restarted worker has a fresh client
    result = run_delete_unit(job, images, runtime)
    receipt = get_json(world.store, receipt_path(job, images))
    assert receipt["targeted"]["count"] == len(all_ids)
    assert set(receipt["deleted"]["ids"]) == all_ids
    assert receipt["alreadyGone"]["count"] == 0
    assert receipt["verification"]["verified"] is True
    assert item_counts(result) == {"imagesTargeted": len(all_ids), "imagesDeleted": len(all_ids)}
    assert world.account.projects[pid].images == {}
    assert receipt["journal"]["resentSteps"] <= 1


def test_a_crash_between_a_batch_and_its_journal_entry_resends_that_batch_once(world: World):
    pid = _big_project(world)
    all_ids = set(world.account.projects[pid].images)
    job, images = world.job("delete"), unit("images", pid)
    # The host dies while writing the entry of step 2, i.e. after step 1 was sent.
    crashing = CrashingStore(world.store, lambda path: path.endswith("/step-000002.json"))
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, images, world.runtime(store=crashing))
    run_delete_unit(job, images, world.runtime())
    receipt = get_json(world.store, receipt_path(job, images))
    assert set(receipt["deleted"]["ids"]) == all_ids
    assert receipt["deleted"]["count"] == len(all_ids)  # the resent batch is not counted twice
    assert receipt["journal"] == {"steps": 4, "resentSteps": 1}


def test_receipt_calls_are_the_real_api_calls_including_verification(world: World):
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    world.account.controls.counters.clear()
    run_delete_unit(job, images, world.runtime())
    receipt = get_json(world.store, receipt_path(job, images))
    made = [c["operation"] for c in receipt["calls"]]
    assert made.count("DeleteImages") == 4
    served = world.account.controls.counters
    assert len(made) == sum(served.values())
    listing = sum(n for op, n in served.items() if op.startswith("Get"))
    assert listing == sum(1 for op in made if op.startswith("Get"))
    assert receipt["verification"]["method"].startswith("GetImages re-list")


def test_a_unit_past_its_time_budget_hands_back_a_cursor_and_finishes_exactly(world: World):
    pid = _big_project(world)
    all_ids = set(world.account.projects[pid].images)
    job, images = world.job("delete"), unit("images", pid)
    runtime = world.runtime(unit_time_budget_seconds=0.0)  # every call stops after at most one step
    calls = 0
    while True:
        calls += 1
        result = run_delete_unit(job, images, runtime)
        if result["next"] is None:
            break
        assert result["next"] == RESUME_CURSOR
        assert item_counts(result) == {}
        assert calls < 50
    assert calls == 4  # one batch per call; the last call verifies too
    receipt = get_json(world.store, receipt_path(job, images))
    assert receipt["journal"] == {"steps": 4, "resentSteps": 0}
    assert set(receipt["deleted"]["ids"]) == all_ids
    assert receipt["deleted"]["count"] == len(all_ids)
    assert receipt["verification"]["verified"] is True


def test_tags_resumed_after_a_crash_count_their_own_deletion_not_as_already_gone(world: World):
    pid = sorted(world.account.projects)[0]
    tag_ids = set(world.account.projects[pid].tags)
    job, tags = world.job("delete"), unit("tags", pid)
    crashing = CrashingStore(world.store, lambda path: path.endswith("/step-000002.json"))
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, tags, world.runtime(store=crashing))
    run_delete_unit(job, tags, world.runtime())
    receipt = get_json(world.store, receipt_path(job, tags))
    assert set(receipt["deleted"]["ids"]) == tag_ids
    assert receipt["alreadyGone"]["count"] == 0
    assert world.account.projects[pid].tags == {}


def test_dry_run_plans_without_a_journal_or_a_delete(world: World):
    pid = sorted(world.account.projects)[0]
    before = set(world.account.projects[pid].images)
    job, images = world.job("delete", dry_run=True), unit("images", pid)
    result = run_delete_unit(job, images, world.runtime())
    assert item_counts(result) == {"imagesTargeted": len(before), "imagesDeleted": 0}
    assert set(world.account.projects[pid].images) == before
    assert not [p for p in world.store.files if "/journal/" in p]


def test_subject_scoped_delete_removes_only_that_subject(world: World):
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    theirs = {i.id for i in project.images.values() if i.metadata.get("subjectId") == "subject-001"}
    others = set(project.images) - theirs
    assert theirs
    job = world.job("delete", subject={"subjectId": "subject-001"})
    result = run_delete_unit(job, unit("images", pid), world.runtime())
    assert result["verified"] is True
    assert set(project.images) == others


def test_project_gone_keeps_what_the_journal_recorded(world: World):
    pid = _big_project(world)
    all_ids = set(world.account.projects[pid].images)
    job, images = world.job("delete"), unit("images", pid)
    crashing = CrashingStore(world.store, lambda path: path.endswith("/step-000003.json"))
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, images, world.runtime(store=crashing))
    del world.account.projects[pid]  # someone deletes the whole project meanwhile
    result = run_delete_unit(job, images, world.runtime())
    receipt = get_json(world.store, receipt_path(job, images))
    assert result["verified"] is True
    assert receipt["deleted"]["count"] == 3 * 256
    assert set(receipt["targeted"]["ids"]) == all_ids


def test_a_crash_in_the_step_after_a_budget_stop_still_counts_that_step_as_ours(world: World):
    pid = sorted(world.account.projects)[0]
    tag_ids = set(world.account.projects[pid].tags)
    assert len(tag_ids) >= 2
    job, tags = world.job("delete"), unit("tags", pid)
    stopping = world.runtime(unit_time_budget_seconds=0.0)
    assert run_delete_unit(job, tags, stopping)["next"] == RESUME_CURSOR  # step 0 done, step 1 checkpointed
    dying = world.runtime(unit_time_budget_seconds=0.0)
    _install(world, dying, CrashingClient, operation="DeleteTag", crash_at=1, after_send=True)
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, tags, dying)  # step 1 is sent, then the host dies
    runtime = world.runtime()
    while run_delete_unit(job, tags, runtime)["next"] is not None:
        pass
    receipt = get_json(world.store, receipt_path(job, tags))
    assert set(receipt["deleted"]["ids"]) == tag_ids
    assert receipt["alreadyGone"]["count"] == 0


class CancelingStore(MemoryStore):
    """A :class:`MemoryStore` on which a cancel arrives (its marker written) as ``when(path)`` is."""

    def __init__(self, base: MemoryStore, when, marker: str) -> None:
        super().__init__()
        self.files = base.files
        self.metadata = base.metadata
        self._when, self._marker = when, marker

    def put_bytes(self, path: str, data: bytes, content_type: str, *, metadata=None):
        ref = super().put_bytes(path, data, content_type, metadata=metadata)
        if self._when(path):
            super().put_bytes(self._marker, b'{"by": "ops"}', "application/json")
        return ref


def test_a_cancel_stops_a_running_delete_before_its_next_batch_and_its_receipt_says_what_was_done(
    world: World,
):
    # Durable does not stop an activity already running: before, a canceled delete unit went on
    # sending DeleteImages until its time budget ran out, and none of it was in any receipt.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    marker = cancel_marker(job["requestId"])
    store = CancelingStore(world.store, lambda path: path.endswith("/step-000001.json"), marker)
    result = run_delete_unit(job, images, world.runtime(store=store))
    receipt = get_json(world.store, receipt_path(job, images))
    assert world.account.controls.counters["DeleteImages"] == 2  # the batch in flight, then no more
    assert receipt["deleted"]["count"] == 2 * 256
    assert len(world.account.projects[pid].images) == IMAGES - 2 * 256
    assert receipt["verification"] is None
    assert "canceled" in receipt["note"]
    assert result["verified"] is None


def test_a_delete_unit_that_starts_after_a_cancel_deletes_nothing(world: World):
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    world.store.put_bytes(cancel_marker(job["requestId"]), b"{}", "application/json")
    result = run_delete_unit(job, images, world.runtime())
    assert world.account.controls.counters.get("DeleteImages", 0) == 0
    assert len(world.account.projects[pid].images) == IMAGES
    assert result["state"] == "failed"
    assert "canceled" in (result["note"] or "")


class RefusingClient(TrainingClient):
    """A real client that the service refuses (403) at the ``refuse_at``-th DeleteImages call."""

    def __init__(self, *args: Any, refuse_at: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._refuse_at, self._seen = refuse_at, 0

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        if operation == "DeleteImages":
            self._seen += 1
            if self._seen == self._refuse_at:
                raise ForbiddenError("DeleteImages", 403, "Forbidden")
        return super()._call(operation, *args, **kwargs)


def test_a_unit_refused_mid_delete_fails_with_a_receipt_of_what_it_deleted_and_a_retry_completes_it(
    world: World,
):
    # Before: the permanent error left the unit with no receipt, though its first batch was deleted.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    runtime = world.runtime()
    _install(world, runtime, RefusingClient, refuse_at=2)
    failed = run_delete_unit(job, images, runtime)
    assert failed["state"] == "failed"
    assert failed["note"] == "ForbiddenError: Custom Vision DeleteImages failed: HTTP 403 Forbidden"
    partial_path = f"{job['requestId']}/receipts/images/{pid}.to-step-000001.json"
    assert [f["path"] for f in failed["files"]] == [partial_path]
    partial = get_json(world.store, partial_path)
    assert partial["deleted"]["count"] == 256
    assert partial["verification"] is None
    assert "step 2 of 4" in partial["note"]
    assert len(world.account.projects[pid].images) == IMAGES - 256

    done = run_delete_unit(job, images, world.runtime())  # the retry, with the service willing again
    final = get_json(world.store, receipt_path(job, images))
    assert done["state"] == "succeeded"
    assert done["verified"] is True
    assert final["deleted"]["count"] + final["alreadyGone"]["count"] == IMAGES
    assert world.account.projects[pid].images == {}


def test_a_unit_paused_at_its_time_budget_sends_nothing_more_after_a_cancel(world: World):
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    paused = run_delete_unit(job, images, world.runtime(unit_time_budget_seconds=0.0))
    assert paused["next"] == RESUME_CURSOR  # step 0 sent, step 1 checkpointed (not sent)
    world.store.put_bytes(cancel_marker(job["requestId"]), b"{}", "application/json")
    run_delete_unit(job, images, world.runtime())
    receipt = get_json(world.store, receipt_path(job, images))
    assert world.account.controls.counters["DeleteImages"] == 1
    assert receipt["deleted"]["count"] == 256
    assert "canceled: 3 of 4" in receipt["note"]


def attempt_of(job: Job, attempt: int) -> Job:
    """The same request's job as a later attempt (a retry) runs it."""
    again = job.copy()
    again["attempt"] = attempt
    return again


def test_a_retry_verifies_an_unverified_unit_again_under_a_receipt_of_its_own(world: World):
    # Before: a unit whose verification deadline passed with images still listed kept verified:false
    # for good: a later attempt answered the first receipt without looking again, though the service
    # had finished the deletes since.
    pid = sorted(world.account.projects)[0]
    world.account.controls.knobs.delete_delay_seconds = 0.5  # 202: images linger this long
    job, images = world.job("delete"), unit("images", pid)
    first = run_delete_unit(job, images, world.runtime(delete_verify_timeout_seconds=0.0))
    assert first["state"] == "succeeded"
    assert first["verified"] is False
    original = world.store.get_bytes(receipt_path(job, images))
    earlier = json.loads(original)
    assert earlier["verification"]["remaining"]["count"] > 0
    assert earlier["attempt"] == 1

    repeated = run_delete_unit(job, images, world.runtime())  # attempt 1's activity, retried
    assert (repeated["verified"], repeated["files"], repeated["counts"]["apiCalls"]) == (
        False,
        first["files"],
        0,
    )

    time.sleep(0.6)  # the service finishes the deletes
    second_attempt = attempt_of(job, 2)
    before = dict(world.account.controls.counters)
    second = run_delete_unit(second_attempt, images, world.runtime())
    made = {op: n - before.get(op, 0) for op, n in world.account.controls.counters.items()}
    assert second["state"] == "succeeded"
    assert second["verified"] is True
    path = f"{job['requestId']}/receipts/images/{pid}.attempt-02.json"
    assert [f["path"] for f in second["files"]] == [path]
    assert "DeleteImages" not in {op for op, n in made.items() if n}  # it sends nothing, it looks
    receipt = get_json(world.store, path)
    assert receipt["attempt"] == 2
    assert receipt["deleted"] == earlier["deleted"]
    assert receipt["targeted"] == earlier["targeted"]
    assert receipt["calls"][: len(earlier["calls"])] == earlier["calls"]
    assert len(receipt["calls"]) - len(earlier["calls"]) == sum(made.values())
    assert receipt["verification"]["verified"] is True
    assert "attempt 1" in receipt["verification"]["note"]
    assert world.store.get_bytes(receipt_path(job, images)) == original  # attempt 1's stays as sealed

    again = run_delete_unit(second_attempt, images, world.runtime())  # attempt 2's activity, retried
    assert (again["files"], again["verified"], again["counts"]["apiCalls"]) == (second["files"], True, 0)
    third = run_delete_unit(attempt_of(job, 3), images, world.runtime())  # verified: nothing to do
    assert (third["files"], third["counts"]["apiCalls"]) == (second["files"], 0)


def test_a_retry_that_finds_the_project_gone_verifies_an_unverified_unit_under_its_own_receipt(world: World):
    pid = sorted(world.account.projects)[0]
    world.account.controls.knobs.delete_delay_seconds = 5.0
    job, images = world.job("delete"), unit("images", pid)
    first = run_delete_unit(job, images, world.runtime(delete_verify_timeout_seconds=0.0))
    assert first["verified"] is False
    original = world.store.get_bytes(receipt_path(job, images))
    del world.account.projects[pid]  # the first attempt's projects unit deleted it
    second = run_delete_unit(attempt_of(job, 2), images, world.runtime())
    assert second["verified"] is True
    assert [f["path"] for f in second["files"]] == [
        f"{job['requestId']}/receipts/images/{pid}.attempt-02.json"
    ]
    assert world.store.get_bytes(receipt_path(job, images)) == original


class CancelingClient(TrainingClient):
    """A real client during whose first DeleteImages call an operator cancels the request."""

    def __init__(self, *args: Any, store: MemoryStore, request_id: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._store, self._request_id = store, request_id

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        if operation == "DeleteImages":
            self._store.put_bytes(cancel_marker(self._request_id), b"{}", "application/json")
        return super()._call(operation, *args, **kwargs)


def test_a_unit_at_its_time_budget_when_the_cancel_came_writes_its_receipt_instead_of_pausing(world: World):
    # Before: it paused, handing back a cursor nobody follows once the request is terminated, and
    # wrote no receipt: the canceled document lacked the batch it had deleted.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    runtime = world.runtime(unit_time_budget_seconds=0.0)
    _install(world, runtime, CancelingClient, store=world.store, request_id=job["requestId"])
    result = run_delete_unit(job, images, runtime)
    assert result["next"] is None
    receipt = get_json(world.store, receipt_path(job, images))
    assert receipt["deleted"]["count"] == 256
    assert receipt["verification"] is None
    assert "canceled: 3 of 4" in receipt["note"]


def _cancel_came(world: World, job: Job) -> None:
    world.store.put_bytes(cancel_marker(job["requestId"]), b"{}", "application/json")


def test_the_cancel_writes_the_receipt_of_a_unit_paused_between_calls_from_its_journal(world: World):
    # Before: a unit paused at its time budget when the request was terminated is never called again,
    # so no receipt said what its first batch had deleted.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    paused = run_delete_unit(job, images, world.runtime(unit_time_budget_seconds=0.0))
    assert paused["next"] == RESUME_CURSOR
    _cancel_came(world, job)
    assert unfinished_plans(world.store, job["requestId"]) == [
        f"{job['requestId']}/journal/images/{pid}/plan.json"
    ]
    (ref,) = write_stopped_receipts(world.store, job["requestId"], subject_scoped=False, attempt=1)
    assert ref.path == f"{job['requestId']}/receipts/images/{pid}.at-cancel.json"
    receipt = get_json(world.store, ref.path)
    assert receipt["deleted"]["count"] == 256
    assert receipt["unconfirmed"] == {"count": 0, "ids": []}
    assert receipt["targeted"]["count"] == IMAGES
    assert receipt["verification"] is None
    assert receipt["note"] == STOPPED_UNIT_NOTE
    assert [c["operation"] for c in receipt["calls"]].count("DeleteImages") == 1
    assert unfinished_plans(world.store, job["requestId"]) == []  # written once, found by the next cancel


def test_the_cancel_lists_the_batch_a_crashed_unit_sent_without_an_answer_apart(world: World):
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    runtime = world.runtime()
    _install(world, runtime, CrashingClient, operation="DeleteImages", crash_at=2, after_send=True)
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, images, runtime)
    _cancel_came(world, job)
    (ref,) = write_stopped_receipts(world.store, job["requestId"], subject_scoped=False, attempt=1)
    receipt = get_json(world.store, ref.path)
    assert receipt["deleted"]["count"] == 256
    assert receipt["unconfirmed"]["count"] == 256  # sent, no answer: the service did delete them here
    assert not set(receipt["unconfirmed"]["ids"]) & set(receipt["deleted"]["ids"])
    assert not set(receipt["unconfirmed"]["ids"]) & set(world.account.projects[pid].images)


def test_a_job_from_before_attempts_were_recorded_runs_as_the_first_attempt(world: World):
    # Before: its units failed at once (KeyError 'attempt'): requests running when this version was
    # deployed carry such jobs in their sub-orchestrations' inputs.
    pid = sorted(world.account.projects)[0]
    job, tags = world.job("delete"), unit("tags", pid)
    del job["attempt"]
    result = run_delete_unit(job, tags, world.runtime())
    assert result["state"] == "succeeded"
    assert get_json(world.store, receipt_path(job, tags))["attempt"] == 1
    assert run_delete_unit(job, tags, world.runtime())["counts"]["apiCalls"] == 0  # its receipt answers


def _calls_made(world: World, before: dict[str, int]) -> int:
    return sum(n - before.get(op, 0) for op, n in world.account.controls.counters.items())


def test_the_calls_of_a_verification_again_that_did_not_finish_stay_in_the_next_attempt_s_receipt(
    world: World,
):
    # Before: attempt 2 verified again, paused at its time budget and ran out of retries; attempt 3's
    # receipt listed attempt 1's calls and its own, and attempt 2's were in no receipt.
    pid = sorted(world.account.projects)[0]
    world.account.controls.knobs.delete_delay_seconds = 1.0
    job, images = world.job("delete"), unit("images", pid)
    run_delete_unit(job, images, world.runtime(delete_verify_timeout_seconds=0.0))
    earlier = get_json(world.store, receipt_path(job, images))
    before = dict(world.account.controls.counters)
    waiting = world.runtime(unit_time_budget_seconds=0.0, delete_verify_timeout_seconds=60.0)
    assert run_delete_unit(attempt_of(job, 2), images, waiting)["next"] == RESUME_CURSOR
    second = _calls_made(world, before)
    assert second > 0
    time.sleep(1.1)  # attempt 2 is never called again; the service finishes the deletes
    before = dict(world.account.controls.counters)
    third = run_delete_unit(attempt_of(job, 3), images, world.runtime())
    assert third["verified"] is True
    receipt = get_json(world.store, third["files"][0]["path"])
    assert len(receipt["calls"]) == len(earlier["calls"]) + second + _calls_made(world, before)


def test_the_plan_keeps_each_targeted_id_once_and_a_resumed_unit_reads_it_whole(world: World):
    # Before: every id was in plan.json twice (targeted, and its step), so a resumed unit decoded
    # 50,000 strings for a project of 25,000 images.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    paused = run_delete_unit(job, images, world.runtime(unit_time_budget_seconds=0.0))
    assert paused["next"] == RESUME_CURSOR
    stored = world.store.get_bytes(f"{job['requestId']}/journal/images/{pid}/plan.json")
    plan = json.loads(stored)
    assert len(plan["targeted"]) == IMAGES
    assert all(stored.count(image_id.encode()) == 1 for image_id in plan["targeted"])
    finished = _run_to_the_end(job, images, world)
    assert finished["verified"] is True
    receipt = get_json(world.store, receipt_path(job, images))
    assert sorted(receipt["deleted"]["ids"]) == sorted(plan["targeted"])
    assert world.account.projects[pid].images == {}


def test_a_plan_written_with_the_ids_in_every_step_still_resumes(world: World):
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    assert run_delete_unit(job, images, world.runtime(unit_time_budget_seconds=0.0))["next"] == RESUME_CURSOR
    path = f"{job['requestId']}/journal/images/{pid}/plan.json"
    plan = get_json(world.store, path)
    targeted = plan["targeted"]
    plan["steps"] = [
        {"operation": "DeleteImages", "ids": targeted[i : i + 256]} for i in range(0, len(targeted), 256)
    ]
    world.store.put_bytes(path, json.dumps(plan).encode(), "application/json")  # as older versions wrote it
    finished = _run_to_the_end(job, images, world)
    assert finished["verified"] is True
    assert get_json(world.store, receipt_path(job, images))["deleted"]["count"] == IMAGES


def _run_to_the_end(job: Job, images, world: World):
    for _ in range(20):
        result = run_delete_unit(job, images, world.runtime(unit_time_budget_seconds=0.0))
        if result["next"] is None:
            return result
    raise AssertionError("the unit did not finish")


def test_resent_steps_survive_a_pause_after_the_resend(world: World):
    # Before: StepRecord.resent lived in memory only, so a unit that resent a step and then paused at
    # its time budget wrote a receipt saying resentSteps 0.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    dying = world.runtime()
    _install(world, dying, CrashingClient, operation="DeleteImages", crash_at=2, after_send=True)
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, images, dying)  # step 1 sent, its answer lost
    finished = _run_to_the_end(job, images, world)  # resends step 1, then pauses before each next one
    assert finished["verified"] is True
    receipt = get_json(world.store, receipt_path(job, images))
    assert receipt["journal"] == {"steps": 4, "resentSteps": 1}
    assert receipt["deleted"]["count"] == IMAGES


def test_step_entries_written_before_resending_was_kept_still_resume(world: World):
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    assert run_delete_unit(job, images, world.runtime(unit_time_budget_seconds=0.0))["next"] == RESUME_CURSOR
    for path in [p for p in world.store.files if "/step-" in p]:
        entry = get_json(world.store, path)
        del entry["previousResent"]  # as older versions wrote it
        world.store.put_bytes(path, json.dumps(entry).encode(), "application/json")
    finished = _run_to_the_end(job, images, world)
    assert finished["verified"] is True
    assert get_json(world.store, receipt_path(job, images))["journal"] == {"steps": 4, "resentSteps": 0}


def test_a_cancel_that_did_not_take_does_not_stop_the_retry_that_follows(world: World):
    # Before: a cancel that answered before the termination took left its marker; the request then
    # finished (it was not canceled), and every delete unit of its retry found the marker and deleted
    # nothing, on every attempt.
    pid = _big_project(world)
    job, images = attempt_of(world.job("delete"), 2), unit("images", pid)
    stale = {"at": "2026-01-01T00:00:00Z", "attempt": 1}
    world.store.put_bytes(cancel_marker(job["requestId"]), json.dumps(stale).encode(), "application/json")
    result = run_delete_unit(job, images, world.runtime())
    assert result["state"] == "succeeded"
    assert world.account.projects[pid].images == {}


def test_a_cancel_of_the_attempt_running_stops_its_units(world: World):
    pid = _big_project(world)
    job, images = attempt_of(world.job("delete"), 2), unit("images", pid)
    current = {"at": "2026-01-01T00:00:00Z", "attempt": 2}
    world.store.put_bytes(cancel_marker(job["requestId"]), json.dumps(current).encode(), "application/json")
    assert run_delete_unit(job, images, world.runtime())["state"] == "failed"
    assert len(world.account.projects[pid].images) == IMAGES


def test_a_unit_out_of_retries_gets_a_receipt_of_what_its_journal_shows(world: World):
    # Before: a delete unit whose last retry failed (503s, a host lost mid-batch) after deleting
    # batches ended with no receipt at all: those deletions were in no record.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    dying = world.runtime()
    _install(world, dying, CrashingClient, operation="DeleteImages", crash_at=3, after_send=True)
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, images, dying)  # two batches answered, the third sent, its answer lost
    result = write_failed_receipt(job, images, world.runtime(), "TransientError: 503")
    assert result["state"] == "failed"
    assert result["note"] == "TransientError: 503"
    assert result["verified"] is None
    (file,) = result["files"]
    assert file["path"] == layout.failed_receipt(job["requestId"], "images", pid, 1)
    receipt = get_json(world.store, file["path"])
    assert receipt["deleted"]["count"] == 2 * 256
    assert receipt["unconfirmed"]["count"] == 256
    assert receipt["verification"] is None
    assert "TransientError: 503" in receipt["note"]
    assert item_counts(result) == {"imagesTargeted": IMAGES, "imagesDeleted": 2 * 256}
    # The retry of its category completes the unit (its journal: all of it) under its own receipt;
    # this one stays as it was sealed.
    while run_delete_unit(attempt_of(job, 2), images, world.runtime())["next"] is not None:
        pass
    assert get_json(world.store, receipt_path(job, images))["deleted"]["count"] == IMAGES
    assert get_json(world.store, file["path"]) == receipt


def test_a_unit_out_of_retries_before_it_planned_gets_no_receipt(world: World):
    pid = sorted(world.account.projects)[0]
    result = write_failed_receipt(world.job("delete"), unit("tags", pid), world.runtime(), "TransientError")
    assert result["state"] == "failed"
    assert result["files"] == []
