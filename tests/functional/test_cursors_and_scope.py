"""Export and delete units resumed from a cursor, narrowed to a subject, run dry, or meeting a project
deleted meanwhile: against the in-process emulator, in seconds."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from dsr import layout
from dsr.erasure import run_delete_unit
from dsr.errors import RequestPayloadError
from dsr.export import run_export_unit
from dsr.storage import get_json, put_json
from dsr.subjects import prediction_window, subject_metadata
from dsr.times import format_time
from dsr.units import Job
from emulator.seed import _Ids, add_images
from tests.functional.conftest import SPEC, World, item_counts, unit

WORKSPACE_IMAGES = 2100
"""More than one call's worth of image pages (8 x 256), so the export hands back a cursor."""


def _records(world: World, folder: str) -> list[dict]:
    found = []
    for path, (data, _) in sorted(world.store.files.items()):
        if path.startswith(folder + "/") and path.endswith(".ndjson"):
            found += [json.loads(line) for line in data.splitlines()]
    return found


def _with_predictions(job: Job, narrowing: dict[str, str] | None) -> Job:
    assert job["subject"] is not None
    return {**job, "subject": {**job["subject"], "predictions": narrowing}}  # type: ignore[typeddict-item]


def test_an_image_export_resumed_from_its_cursor_exports_every_image_once(world: World):
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    add_images(project, WORKSPACE_IMAGES, _Ids(random.Random(5)), random.Random(6), spec=SPEC, tag_ids=[])
    job = world.job("export")
    world.prepare_export(job)
    images = unit("images", pid)
    first = run_export_unit(job, images, world.runtime())
    assert first["next"] is not None
    run, _, within = first["next"].partition("/")
    assert within == "w:2048"  # the workspace was not done: the next call starts there
    assert len(run) == 12  # the run this start of the unit opened, carried by its cursor
    assert item_counts(first)["images"] == 2048
    resumed = unit("images", pid)
    resumed["cursor"] = first["next"]
    second = run_export_unit(job, resumed, world.runtime())
    again = run_export_unit(job, resumed, world.runtime())  # Durable retried the activity
    assert second["next"] is None
    assert item_counts(again) == item_counts(second)
    ids = Counter(r["id"] for r in _records(world, layout.images_folder(job["requestId"], pid)))
    assert set(ids) == set(project.images)
    assert [i for i, n in ids.items() if n > 1] == []


def test_subject_predictions_without_a_window_are_neither_exported_nor_deleted(world: World):
    pid = sorted(world.account.projects)[0]
    before = set(world.account.projects[pid].predictions)
    assert before
    for operation, run in (("export", run_export_unit), ("delete", run_delete_unit)):
        job = world.job(operation, subject={"subjectId": "subject-001"})
        result = run(job, unit("predictions", pid), world.runtime())
        assert result["state"] == "not_attributable"
        assert result["files"] == []
    assert set(world.account.projects[pid].predictions) == before


def test_a_prediction_window_narrows_export_and_delete_to_it(world: World):
    pid = sorted(world.account.projects)[0]
    predictions = world.account.projects[pid].predictions
    application = sorted({p.application for p in predictions.values()})[0]
    times = sorted(p.created for p in predictions.values() if p.application == application)
    window = {"application": application, "from": format_time(times[0]), "to": format_time(times[-1])}
    inside = {
        p.id
        for p in predictions.values()
        if p.application == application and times[0] <= p.created <= times[-1]
    }
    assert inside
    assert inside != set(predictions)
    export = _with_predictions(world.job("export", subject={"subjectId": "subject-001"}), window)
    run_export_unit(export, unit("predictions", pid), world.runtime())
    exported = _records(world, layout.predictions_folder(export["requestId"], pid))
    assert {r["id"] for r in exported} == inside
    delete = _with_predictions(world.job("delete", subject={"subjectId": "subject-001"}), window)
    result = run_delete_unit(delete, unit("predictions", pid), world.runtime())
    assert result["verified"] is True
    assert set(predictions).isdisjoint(inside)
    assert predictions  # those outside the window stay


def test_subject_metadata_is_read_from_its_stored_payload(world: World):
    pid = sorted(world.account.projects)[0]
    theirs = world.subject_images(pid, "subject-002")
    assert theirs
    job = world.job("export", subject={"subjectId": "subject-002"})
    stored = put_json(
        world.store, layout.payload(job["requestId"], "f" * 64, "subject"), {"subjectId": "subject-002"}
    )
    assert job["subject"] is not None
    job = {**job, "subject": {**job["subject"], "metadata": None, "metadataFile": stored.path}}
    assert subject_metadata(job, world.store) == {"subjectId": "subject-002"}
    world.prepare_export(job)
    images = unit("images", pid)
    while (result := run_export_unit(job, images, world.runtime()))["next"] is not None:
        images["cursor"] = result["next"]
    assert {r["id"] for r in _records(world, layout.images_folder(job["requestId"], pid))} == theirs


@pytest.mark.parametrize("payload", [None, [], {}, "subject-002"])
def test_an_unusable_subject_payload_is_an_error_of_the_tree(world: World, payload):
    job = world.job("export", subject={"subjectId": "subject-002"})
    assert job["subject"] is not None
    path = None
    if payload is not None:
        path = put_json(world.store, layout.payload(job["requestId"], "f" * 64, "subject"), payload).path
    job = {**job, "subject": {**job["subject"], "metadata": None, "metadataFile": path}}
    with pytest.raises(RequestPayloadError):
        subject_metadata(job, world.store)


def test_a_malformed_prediction_window_is_an_error_of_the_tree(world: World):
    job = _with_predictions(world.job("export", subject={"subjectId": "s"}), {"from": "yesterday"})
    with pytest.raises(RequestPayloadError):
        prediction_window(job)


def test_a_project_deleted_meanwhile_leaves_each_operation_a_result(world: World):
    pid = sorted(world.account.projects)[0]
    export = world.job("export")
    world.prepare_export(export)
    del world.account.projects[pid]
    exported = run_export_unit(export, unit("predictions", pid), world.runtime())
    assert (exported["state"], exported["note"]) == ("succeeded", "project no longer exists")
    delete, tags = world.job("delete"), unit("tags", pid)
    deleted = run_delete_unit(delete, tags, world.runtime())
    assert deleted["verified"] is True
    assert item_counts(deleted) == {"tagsTargeted": 0, "tagsDeleted": 0}
    receipt = get_json(world.store, layout.receipt(delete["requestId"], "tags", pid))
    assert receipt["note"] == "project no longer exists: nothing left to delete"
    assert receipt["verification"]["method"] == "GetProject returns NotFound"


def test_a_dry_run_of_iterations_and_projects_deletes_nothing(world: World):
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    iterations = set(project.iterations)
    job = world.job("delete", dry_run=True)
    for name in ("iterations", "projects"):
        result = run_delete_unit(job, unit(name, pid), world.runtime())
        receipt = get_json(world.store, layout.receipt(job["requestId"], name, pid))
        assert receipt["dryRun"] is True
        assert receipt["deleted"]["count"] == 0
        assert receipt["note"].startswith("dry run: nothing was deleted")
        assert result["verified"] is None
    assert pid in world.account.projects
    assert set(project.iterations) == iterations
    published = [i for i in project.iterations.values() if i.publish_name]
    assert published  # still published: the dry run unpublished nothing either


def test_the_window_is_read_as_the_contract_wrote_it(world: World):
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    job = _with_predictions(world.job("export", subject={"subjectId": "s"}), {"from": format_time(moment)})
    assert prediction_window(job) == (None, moment, None)
