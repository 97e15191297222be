"""Delete units make the minimal calls of docs/benchmarks.md (``benchmarks.minimal_calls``): every
listing once, one verifying re-list per scope that could still hold a target, and no later unit listing
again what an earlier one already listed or deleted. Counted where the service counts them."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.minimal_calls import delete_calls
from dsr.erasure import receipt_path, run_delete_unit
from dsr.storage import get_json
from tests.functional.conftest import World, unit
from tests.functional.fakes import CrashingStore, SimulatedCrash
from tests.functional.test_erasure_journal import attempt_of

PHASE_ORDER = ("images", "predictions", "tags", "iterations", "projects")


def _served(world: World) -> int:
    return sum(world.account.controls.counters.values())


def _run(world: World, job, category: str, pid: str) -> int:
    """Run one delete unit to the end; the Training API calls it made."""
    world.account.controls.counters.clear()
    work = unit(category, pid)
    while (result := run_delete_unit(job, work, world.runtime()))["next"] is not None:
        pass
    assert result["state"] == "succeeded", result
    assert result["verified"] is True, result
    return _served(world)


def test_a_whole_delete_makes_the_minimal_calls_of_every_category(world: World):
    expected = delete_calls(world.account)  # counted from the data before anything is deleted
    del expected["request"]  # GetProjects is the resolution's, not a unit's
    job = world.job("delete")
    made: Counter[str] = Counter()
    for category in PHASE_ORDER:
        for pid in job["projectIds"]:
            made[category] += _run(world, job, category, pid)
    assert made == expected
    assert world.account.projects == {}


def test_an_image_only_an_iteration_holds_is_deleted_and_only_its_iteration_re_listed(world: World):
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    hidden = next(iter(project.images.values()))
    hidden.in_workspace = False  # deleted without allIterations: only trained iterations still hold it
    holders = [it for it in project.iterations.values() if hidden.id in it.image_ids]
    assert holders
    other = sorted(world.account.projects)[1]
    del world.account.projects[other]  # one project, so the per-project figure is the whole
    expected = delete_calls(world.account)["images"]
    job = world.job("delete")
    job["projectIds"] = [pid]
    every_image = set(project.images)
    assert _run(world, job, "images", pid) == expected
    receipt = get_json(world.store, receipt_path(job, unit("images", pid)))
    assert set(receipt["deleted"]["ids"]) == every_image
    assert hidden.id in receipt["targeted"]["ids"]
    assert project.images == {}


def test_a_delete_of_projects_alone_unpublishes_first(world: World):
    job = world.job("delete")
    job["categories"] = ["projects"]
    assert any(p.published_iterations() for p in world.account.projects.values())
    for pid in job["projectIds"]:
        _run(world, job, "projects", pid)
    assert world.account.projects == {}


def test_iterations_without_images_in_the_request_list_their_own(world: World):
    job = world.job("delete")
    job["categories"] = ["iterationList"]
    for pid in job["projectIds"]:
        _run(world, job, "iterations", pid)
    assert all(p.iterations == {} for p in world.account.projects.values())


def test_a_resumed_images_unit_verifies_the_scopes_its_plan_chose(world: World):
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    hidden = next(iter(project.images.values()))
    hidden.in_workspace = False
    holders = {it.id for it in project.iterations.values() if hidden.id in it.image_ids}
    job, images = world.job("delete"), unit("images", pid)
    # The host dies writing the closing entry, i.e. after the one DeleteImages batch was sent.
    crashing = CrashingStore(world.store, lambda path: path.endswith("/step-000001.json"))
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, images, world.runtime(store=crashing))
    plan = get_json(world.store, f"{job['requestId']}/journal/images/{pid}/plan.json")
    assert plan["verifyScopes"][0] is None  # the workspace, then the one iteration that showed the image
    assert len(plan["verifyScopes"]) == 2
    assert plan["verifyScopes"][1] in holders
    world.account.controls.counters.clear()
    result = run_delete_unit(job, images, world.runtime())
    assert result["verified"] is True
    served = world.account.controls.counters
    # The batch again (unconfirmed), then one re-list per kept scope; no new listing of iterations.
    assert served["DeleteImages"] == 1
    assert served.get("GetIterations", 0) == 0
    assert sum(served.values()) == 1 + len(plan["verifyScopes"])
    assert project.images == {}


def test_a_verifying_re_list_of_an_iteration_deleted_since_finds_nothing_left_there(world: World):
    # A retry runs a failed images category again after the first attempt's iterations unit deleted
    # the iteration its plan chose to re-list: the 404 for that iteration failed the unit every time.
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    hidden = next(iter(project.images.values()))
    hidden.in_workspace = False
    job, images = world.job("delete"), unit("images", pid)
    crashing = CrashingStore(world.store, lambda path: path.endswith("/step-000001.json"))
    with pytest.raises(SimulatedCrash):
        run_delete_unit(job, images, world.runtime(store=crashing))
    plan = get_json(world.store, f"{job['requestId']}/journal/images/{pid}/plan.json")
    del project.iterations[plan["verifyScopes"][1]]
    result = run_delete_unit(job, images, world.runtime())
    assert result["state"] == "succeeded", result
    assert result["verified"] is True
    assert project.images == {}


def test_a_finished_unit_run_again_answers_its_receipt_and_calls_nothing(world: World):
    # A retry runs every unit of a failed category again. A finished one that re-verified wrote a
    # receipt that differed from the copy the first attempt sealed (its chain keeps the first), so
    # the status document and the certificate could disagree on what was verified.
    pid = sorted(world.account.projects)[0]
    job, images = world.job("delete"), unit("images", pid)
    _run(world, job, "images", pid)
    path = receipt_path(job, images)
    written = world.store.get_bytes(path)
    first = get_json(world.store, path)
    world.account.controls.counters.clear()
    again = run_delete_unit(job, images, world.runtime())
    assert _served(world) == 0
    assert world.store.get_bytes(path) == written
    assert again["state"] == "succeeded"
    assert again["verified"] is True
    assert again["counts"]["imagesDeleted"] == first["deleted"]["count"] + first["alreadyGone"]["count"]
    assert again["files"][0]["path"] == path


def test_a_dry_run_unit_with_a_receipt_calls_nothing_when_run_again(world: World):
    # Before: a dry run's receipt has no verification, which read as "stopped short": a retry of its
    # category planned again (GetIterations, GetImages, ...) and rewrote the receipt the chain had sealed.
    pid = sorted(world.account.projects)[0]
    job, images = world.job("delete", dry_run=True), unit("images", pid)
    first = run_delete_unit(job, images, world.runtime())
    path = receipt_path(job, images)
    written = world.store.get_bytes(path)
    world.account.controls.counters.clear()
    again = run_delete_unit(attempt_of(job, 2), images, world.runtime())
    assert _served(world) == 0
    assert again["counts"]["apiCalls"] == 0
    assert world.store.get_bytes(path) == written
    assert (again["files"], again["counts"]["imagesTargeted"]) == (
        first["files"],
        first["counts"]["imagesTargeted"],
    )
