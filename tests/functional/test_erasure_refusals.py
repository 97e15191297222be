"""Delete units the service refused (a 4xx): the refused step did nothing, and receipts say so.

The refusal is recorded in the unit's journal. A retry sends the refused step as a new one (not as its
own unconfirmed step), a later refusal at the same step writes a receipt of its own, and a cancel
skips a unit only while its journal still ends at the refused step, never sent since.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dsr import layout
from dsr.customvision import ForbiddenError, TrainingClient
from dsr.erasure import receipt_path, run_delete_unit, write_stopped_receipts
from dsr.storage import get_json
from dsr.units import Job, UnitResult
from tests.functional.conftest import World, unit
from tests.functional.fakes import CrashingStore, SimulatedCrash
from tests.functional.test_erasure_journal import CrashingClient, _big_project, _install, attempt_of

BATCH = 256
"""Ids per DeleteImages step."""
RESENT_NOTE = "sent once before without an answer"
"""What a ``to-step`` receipt says when the refused step was this unit's own unconfirmed step."""


class Refusing(TrainingClient):
    """A real client that the service refuses (403) at the ``refuse``-th calls of ``operation``."""

    def __init__(self, *args: Any, operation: str, refuse: set[int], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._operation, self._refuse, self._seen = operation, refuse, 0

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        if operation == self._operation:
            self._seen += 1
            if self._seen in self._refuse:
                raise ForbiddenError(operation, 403, "Forbidden")
        return super()._call(operation, *args, **kwargs)


def _refused_at_step_1(world: World, job: Job, category: str, operation: str, pid: str) -> UnitResult:
    """Run the unit with the service refusing its second step (step 1): it fails with a to-step receipt."""
    runtime = world.runtime()
    _install(world, runtime, Refusing, operation=operation, refuse={2})
    failed = run_delete_unit(job, unit(category, pid), runtime)
    assert failed["state"] == "failed"
    return failed


def _targeted(world: World, job: Job, category: str, pid: str) -> list[str]:
    """The ids the unit's journal plan targets, in step order."""
    root = layout.journal_root(job["requestId"], category, pid)
    targeted: list[str] = get_json(world.store, layout.journal_plan(root))["targeted"]
    return targeted


def _cancel_came(world: World, job: Job) -> None:
    world.store.put_bytes(layout.cancel_marker(job["requestId"]), b"{}", "application/json")


def test_a_refused_tag_deleted_by_hand_before_the_retry_is_already_gone_not_deleted(world: World):
    # Before: the retry took the refused step for its own unconfirmed one, so the 404 it got (the
    # customer had deleted the tag meanwhile) counted as deleted by this request, and resentSteps 1.
    pid = sorted(world.account.projects)[0]
    job, tags = world.job("delete"), unit("tags", pid)
    _refused_at_step_1(world, job, "tags", "DeleteTag", pid)
    targeted = _targeted(world, job, "tags", pid)
    by_hand = targeted[1]
    del world.account.projects[pid].tags[by_hand]
    done = run_delete_unit(attempt_of(job, 2), tags, world.runtime())
    assert done["verified"] is True
    receipt = get_json(world.store, receipt_path(job, tags))
    assert receipt["alreadyGone"]["ids"] == [by_hand]
    assert by_hand not in receipt["deleted"]["ids"]
    assert receipt["deleted"]["count"] == len(targeted) - 1
    assert receipt["journal"]["resentSteps"] == 0


def test_a_step_refused_again_by_a_retry_gets_a_to_step_receipt_of_its_own(world: World):
    # Before: attempt 2, refused at the same step, rewrote attempt 1's to-step receipt (attempt 2, a new
    # note and time) while the chain kept attempt 1's sealed copy; its note also said the step had been
    # "sent once before without an answer", though the service had refused it.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    first = _refused_at_step_1(world, job, "images", "DeleteImages", pid)
    (first_file,) = first["files"]
    assert first_file["path"] == layout.partial_receipt(job["requestId"], "images", pid, 1)
    sealed = world.store.get_bytes(first_file["path"])  # what attempt 1's status seals
    runtime = world.runtime()
    _install(world, runtime, Refusing, operation="DeleteImages", refuse={1})
    second = run_delete_unit(attempt_of(job, 2), images, runtime)
    assert second["state"] == "failed"
    assert world.store.get_bytes(first_file["path"]) == sealed
    (second_file,) = second["files"]
    assert second_file["path"] == f"{job['requestId']}/receipts/images/{pid}.to-step-000001.attempt-02.json"
    receipt = get_json(world.store, second_file["path"])
    assert (receipt["attempt"], receipt["deleted"]["count"]) == (2, BATCH)
    assert RESENT_NOTE not in receipt["note"]


def test_a_resent_refused_step_cut_short_is_reported_unconfirmed_at_cancel(world: World):
    # Before: the cancel skipped every unit with a to-step receipt at its last step. Attempt 2 had sent
    # that step again, the service deleted its ids and the host died: those ids were in no receipt.
    pid = _big_project(world)
    job, images = world.job("delete"), unit("images", pid)
    _refused_at_step_1(world, job, "images", "DeleteImages", pid)
    step_1 = set(_targeted(world, job, "images", pid)[BATCH : 2 * BATCH])
    dying = world.runtime()
    _install(world, dying, CrashingClient, operation="DeleteImages", crash_at=1, after_send=True)
    with pytest.raises(SimulatedCrash):
        run_delete_unit(attempt_of(job, 2), images, dying)
    assert not step_1 & set(world.account.projects[pid].images)  # the service did delete them
    _cancel_came(world, job)
    (ref,) = write_stopped_receipts(world.store, job["requestId"], subject_scoped=False, attempt=2)
    receipt = get_json(world.store, ref.path)
    assert receipt["deleted"]["count"] == BATCH
    assert set(receipt["unconfirmed"]["ids"]) == step_1


def test_a_cancel_keeps_the_to_step_receipt_of_a_unit_refused_and_not_sent_since(world: World):
    pid = _big_project(world)
    job = world.job("delete")
    _refused_at_step_1(world, job, "images", "DeleteImages", pid)
    _cancel_came(world, job)
    assert write_stopped_receipts(world.store, job["requestId"], subject_scoped=False, attempt=1) == []


def test_a_cancel_after_a_crash_before_the_to_step_receipt_lists_only_what_was_deleted(world: World):
    # Before: the refusal was not journaled, so the refused step (which did nothing) looked sent without
    # an answer and its ids went into the cancel's receipt as unconfirmed.
    pid = _big_project(world)
    job = world.job("delete")
    runtime = world.runtime(store=CrashingStore(world.store, lambda path: ".to-step-" in path))
    _install(world, runtime, Refusing, operation="DeleteImages", refuse={2})
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, unit("images", pid), runtime)
    _cancel_came(world, job)
    (ref,) = write_stopped_receipts(world.store, job["requestId"], subject_scoped=False, attempt=1)
    receipt = get_json(world.store, ref.path)
    assert receipt["deleted"]["count"] == BATCH
    assert receipt["unconfirmed"] == {"count": 0, "ids": []}
    entry = world.store.get_bytes(
        layout.journal_step(layout.journal_root(job["requestId"], "images", pid), 1)
    )
    assert json.loads(entry)["refusedBy"] == 1
