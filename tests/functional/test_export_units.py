"""Export units against the in-process emulator: cursors, subject scope, iteration-only images, a
vanished project. Behaviour only (what ends up in the store), so the listing strategy may change."""

from __future__ import annotations

import json

import pytest

import dsr.export as export_module
from dsr.export import run_export_unit
from dsr.units import combine_results
from emulator.blobs import blob_bytes
from tests.functional.conftest import World, unit


def _export_images(world: World, job, pid: str) -> None:
    world.prepare_export(job)
    images, calls = unit("images", pid), 0
    while True:
        calls += 1
        result = run_export_unit(job, images, world.runtime())
        assert result["state"] == "succeeded", result
        if result["next"] is None:
            return
        images["cursor"] = result["next"]
        assert calls < 100


def _image_records(world: World, pid: str) -> list[dict]:
    records = []
    for path, (data, _) in sorted(world.store.files.items()):
        if f"/images/{pid}/" in path and path.endswith(".ndjson"):
            records += [json.loads(line) for line in data.splitlines()]
    return records


def _stored_bytes(world: World, pid: str, image_id: str) -> bytes | None:
    for path, (data, _) in world.store.files.items():
        if f"/images/{pid}/{image_id}." in path:
            return data
    return None


def test_every_image_is_exported_once_with_its_original_bytes(world: World):
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    hidden = next(iter(project.images.values()))
    hidden.in_workspace = False  # deleted without allIterations: only a trained iteration still holds it
    assert any(hidden.id in it.image_ids for it in project.iterations.values())
    _export_images(world, world.job("export"), pid)
    records = _image_records(world, pid)
    ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(project.images)
    assert len(ids) == len(set(ids))
    for image_id in (hidden.id, ids[-1]):
        with world.server.state.lock:
            original = blob_bytes(world.server.state, "images", pid, image_id, "original.png")
        assert original is not None
        assert _stored_bytes(world, pid, image_id) == original[0]


def test_subject_scoped_export_holds_only_that_subjects_images(world: World):
    pid = sorted(world.account.projects)[0]
    theirs = world.subject_images(pid, "subject-002")
    assert theirs
    _export_images(world, world.job("export", subject={"subjectId": "subject-002"}), pid)
    assert {r["id"] for r in _image_records(world, pid)} == theirs


def test_a_project_deleted_meanwhile_exports_nothing_and_says_so(world: World):
    pid = sorted(world.account.projects)[0]
    del world.account.projects[pid]
    job = world.job("export")
    world.prepare_export(job)
    result = run_export_unit(job, unit("images", pid), world.runtime())
    assert result["state"] == "succeeded"
    assert result["note"] == "project no longer exists"
    assert _image_records(world, pid) == []


@pytest.mark.parametrize("category", ["projects", "tags", "exportedModels", "iterationPerformance"])
def test_an_account_wide_unit_exports_the_other_projects_when_one_is_deleted_meanwhile(
    world: World, category: str
):
    # Before: the deleted project's NotFound failed the whole unit, so the projects that still exist
    # were not exported either, and the category failed.
    gone, kept = sorted(world.account.projects)
    job = world.job("export")
    world.prepare_export(job)
    del world.account.projects[gone]
    result = run_export_unit(job, unit(category, None), world.runtime())
    assert result["state"] == "succeeded", result
    assert (
        result["note"] == f"deleted while the export ran, so nothing more of it is exported: project {gone}"
    )
    written = b"".join(world.store.files[f["path"]][0] for f in result["files"])
    assert kept.encode() in written
    assert gone.encode() not in written
    assert not [f for f in result["files"] if gone in f["path"]]


def test_a_fresh_images_unit_is_not_misled_by_ids_files_an_earlier_attempt_left(world: World):
    # A retry runs the images unit again from the start in the same work folder. An earlier attempt's
    # ids file at an offset this run does not reach (the listings shifted meanwhile) was read as
    # "already exported": the images it named were left out of the export, with no error.
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    hidden = next(iter(project.images.values()))
    hidden.in_workspace = False
    job = world.job("export")
    world.prepare_export(job)
    for kind in ("i", "u"):
        for iteration_id in project.iterations:
            stale = f"{job['requestId']}/work/{pid}/ids-{kind}-{iteration_id}-{256:06d}.txt"
            world.store.put_bytes(stale, f"{hidden.id}\n".encode(), "text/plain")
    images, files = unit("images", pid), []
    while True:
        result = run_export_unit(job, images, world.runtime())
        files += [f["path"] for f in result["files"]]
        if result["next"] is None:
            break
        images["cursor"] = result["next"]
    exported = {
        json.loads(line)["id"]
        for path in files
        if path.endswith(".ndjson") and "/images/" in path
        for line in world.store.get_bytes(path).splitlines()
    }
    assert hidden.id in exported
    assert exported == set(project.images)


def test_a_subject_scoped_export_keeps_other_peoples_image_results_out_of_iteration_performance(world: World):
    # Per-image results cover every image an iteration holds and carry no metadata to select by:
    # a subject's export held other subjects' image ids, tags and predictions.
    job = world.job("export", subject={"subjectId": "subject-002"})
    job["categories"] = ["iterationPerformance"]
    world.prepare_export(job)
    result = run_export_unit(job, unit("iterationPerformance", None), world.runtime())
    assert result["state"] == "succeeded"
    assert result["files"], "the iterations' own performance is still exported"
    assert all(not f["path"].endswith(".ndjson") for f in result["files"])
    assert "imagePerformances" not in result["counts"] or result["counts"]["imagePerformances"] == 0
    assert "left out" in (result["note"] or "")


def _trained(world: World, pid: str) -> list[str]:
    iterations = world.account.projects[pid].iterations.values()
    return sorted(it.id for it in iterations if it.status == "Completed")


@pytest.mark.parametrize("category", ["exportedModels", "iterationPerformance"])
def test_an_iteration_deleted_while_the_export_runs_leaves_the_others_to_export(world: World, category: str):
    # Before: its NotFoundIteration failed the whole unit, so no project's models or performance
    # were exported and the category failed.
    pid = sorted(world.account.projects)[0]
    gone, *kept = _trained(world, pid)
    assert kept
    job = world.job("export")
    world.prepare_export(job)
    del world.account.projects[pid].iterations[gone]
    result = run_export_unit(job, unit(category, None), world.runtime())
    assert result["state"] == "succeeded", result
    assert (
        result["note"] == f"deleted while the export ran, so nothing more of it is exported: iteration {gone}"
    )
    written = b"".join(world.store.files[f["path"]][0] for f in result["files"])
    assert gone.encode() not in written
    assert all(iid.encode() in written for iid in kept)


def test_an_images_unit_goes_on_past_an_iteration_deleted_while_it_runs(world: World):
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    gone = _trained(world, pid)[0]
    job = world.job("export")
    world.prepare_export(job)
    del project.iterations[gone]
    images, notes, ids = unit("images", pid), [], set()
    while True:
        result = run_export_unit(job, images, world.runtime())
        assert result["state"] == "succeeded", result
        notes.append(result["note"])
        ids |= {
            json.loads(line)["id"]
            for f in result["files"]
            if f["path"].endswith(".ndjson") and "/images/" in f["path"]
            for line in world.store.get_bytes(f["path"]).splitlines()
        }
        if result["next"] is None:
            break
        images["cursor"] = result["next"]
    assert f"deleted while the export ran, so nothing more of it is exported: iteration {gone}" in notes
    assert {i.id for i in project.images.values() if i.in_workspace} <= ids


def _pages_per_call(monkeypatch: pytest.MonkeyPatch, pages: int) -> None:
    """Let each call of an images unit make ``pages`` listing calls (PAGES_PER_UNIT in production)."""
    monkeypatch.setattr(export_module._PageBudget.__init__, "__defaults__", (pages,))


def test_an_iteration_deleted_before_a_failed_call_is_retried_leaves_no_image_out(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    # Before: the failed call had written the ids of iteration A's images before their records; its
    # retry skipped A (deleted meanwhile), and B then took A's ids as exported: an image only A and
    # B still held was in no file.
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    a, b = _trained(world, pid)
    hidden = project.images[sorted(project.iterations[a].image_ids & project.iterations[b].image_ids)[0]]
    hidden.in_workspace = False  # removed without allIterations: only A and B hold it
    job = world.job("export")
    world.prepare_export(job)
    images = unit("images", pid)
    _pages_per_call(monkeypatch, 1)
    images["cursor"] = run_export_unit(job, images, world.runtime())["next"]  # the workspace
    _pages_per_call(monkeypatch, 2)  # iteration A, both kinds

    def copy_failed(self: object) -> None:
        raise RuntimeError("a copy failed")

    with monkeypatch.context() as failing:
        failing.setattr(export_module._ImageCall, "finish", copy_failed)
        with pytest.raises(RuntimeError):
            run_export_unit(job, images, world.runtime())
    del project.iterations[a]
    while images["cursor"] is not None:  # the activity's retry, with the same cursor, and on
        result = run_export_unit(job, images, world.runtime())
        assert result["state"] == "succeeded", result
        images["cursor"] = result["next"]
    assert hidden.id in {r["id"] for r in _image_records(world, pid)}


def test_a_paged_unit_names_every_iteration_it_skipped(world: World, monkeypatch: pytest.MonkeyPatch):
    # Before: the combined result kept the last call's note only, so an iteration skipped in an
    # earlier call went unnamed.
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    a, b = _trained(world, pid)
    job = world.job("export")
    world.prepare_export(job)
    _pages_per_call(monkeypatch, 1)
    images, combined, calls = unit("images", pid), None, 0
    while True:
        calls += 1
        if calls in (2, 3):
            del project.iterations[a if calls == 2 else b]
        result = run_export_unit(job, images, world.runtime())
        combined = combine_results(combined, result)
        if result["next"] is None:
            break
        images["cursor"] = result["next"]
    assert combined is not None
    assert a in (combined["note"] or "")
    assert b in (combined["note"] or "")
