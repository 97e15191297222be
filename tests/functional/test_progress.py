"""Progress of a running request: the counts its paging units reported so far, shown while it runs."""

from __future__ import annotations

import json
from datetime import datetime

from dsr import erasure, layout
from dsr.contract import parse_request
from dsr.erasure import run_delete_unit
from dsr.progress import (
    COUNTS_METADATA_KEY,
    progress_by_unit,
    record_progress,
    record_unit_counts,
    with_progress_so_far,
)
from dsr.status import initial_document, with_progress
from dsr.storage import StorageUnavailableError
from dsr.units import Job, empty_result
from tests.functional.conftest import SPEC, World, item_counts, unit
from tests.functional.fakes import MemoryStore


def _job(attempt: int = 1, request_id: str = "r1") -> Job:
    return {
        "requestId": request_id,
        "operation": "export",
        "account": {
            "endpoint": "https://a.cognitiveservices.azure.com",
            "trainingKeySecret": "s",
            "secretVersion": "v",
        },
        "projectIds": ["p1", "p2"],
        "categories": ["images"],
        "subject": None,
        "dryRun": False,
        "attempt": attempt,
    }


def _result(category: str, project: str, **counts: int):
    result = empty_result({"category": category, "projectId": project, "cursor": None}, "succeeded")
    result["counts"] = counts
    return result


def test_each_unit_keeps_its_latest_total_and_a_poll_sums_the_units_of_a_category():
    store = MemoryStore()
    job = _job()
    record_progress(store, job, {}, _result("images", "p1", images=100, apiCalls=9))
    record_progress(
        store, job, {"images": 100, "apiCalls": 9}, _result("images", "p1", images=50, apiCalls=4)
    )
    record_progress(store, job, {}, _result("images", "p2", images=7, apiCalls=2))
    record_progress(store, job, {}, _result("predictions", "p1", predictions=3))
    record_progress(store, _job(request_id="r2"), {}, _result("images", "p1", images=1000))  # another's
    assert progress_by_unit(store, "r1", 1) == {
        "images": {"images": 157, "apiCalls": 15},
        "predictions": {"predictions": 3},
    }
    path = layout.unit_progress("r1", 1, "images", "p1")
    assert store.files[path][0] == b""  # counts only, in metadata: nothing personal to keep
    for unreadable in ("not json", "[]", "null", "7"):
        store.metadata[path][COUNTS_METADATA_KEY] = unreadable
        assert progress_by_unit(store, "r1", 1)["images"] == {"images": 7, "apiCalls": 2}


def test_a_retry_shows_only_its_own_attempt_s_progress():
    # Before: attempt 1's counts stayed in the sums while attempt 2 ran, for a project it no longer
    # ran at all too, so the running category showed more than the attempt had done.
    store = MemoryStore()
    record_progress(store, _job(1), {}, _result("images", "p1", images=40))
    record_progress(store, _job(1), {}, _result("images", "p2", images=40))
    record_progress(store, _job(2), {}, _result("images", "p2", images=40))
    assert progress_by_unit(store, "r1", 2) == {"images": {"images": 40}}
    document = _export_document(["images"])
    document["categories"]["images"]["state"] = "running"
    document["attempts"] = [
        {"attempt": 1, "state": "failed", "startedAt": "", "completedAt": "", "categories": {}}
    ]
    assert with_progress_so_far(store, document)["categories"]["images"]["counts"] == {"images": 40}


class _UnreachableStore(MemoryStore):
    def list_page(self, prefix, page_size, token):
        raise StorageUnavailableError("could not list")


def test_a_poll_that_cannot_read_the_progress_answers_without_it():
    # Before: the status poll of a running request failed (503) while the export container could not
    # be listed, though the request itself was fine.
    document = _export_document(["images"])
    document["categories"]["images"]["state"] = "running"
    assert with_progress_so_far(_UnreachableStore(), document) == document


def _export_document(categories: list[str]):
    request = parse_request(
        {
            "requestId": "r1",
            "operation": "export",
            "account": {"endpoint": "https://a.cognitiveservices.azure.com", "trainingKeySecret": "cv-key"},
            "categories": categories,
        }
    )
    return initial_document(request, datetime(2026, 1, 1), "running")


def test_a_running_category_shows_its_units_counts_so_far_and_a_finished_one_keeps_its_own():
    document = _export_document(["images", "iterationPerformance", "predictions", "tags"])
    for name in ("images", "iterationPerformance", "predictions"):
        document["categories"][name]["state"] = "running"
    document["categories"]["tags"]["state"] = "succeeded"
    document["categories"]["tags"]["counts"] = {"tags": 3}
    shown = with_progress(
        document,
        {
            "images": {"images": 150, "imagePerformances": 40, "iterations": 2, "apiCalls": 12},
            "predictions": {"predictions": 5},
            "tags": {"tags": 99},  # finished: its entry has its own counts
        },
    )
    categories = shown["categories"]
    assert categories["images"]["counts"] == {"images": 150, "apiCalls": 12}
    assert categories["iterationPerformance"]["counts"] == {"imagePerformances": 40, "iterations": 2}
    assert categories["predictions"]["counts"] == {"predictions": 5}
    assert categories["tags"]["counts"] == {"tags": 3}
    assert document["categories"]["images"]["counts"] == {}  # a new document, the old one unchanged


class _ProgressLog(MemoryStore):
    """Keeps every progress write in order; ``unavailable`` makes them fail as storage can."""

    def __init__(self, unavailable: bool = False) -> None:
        super().__init__()
        self.writes: list[dict[str, int]] = []
        self._unavailable = unavailable

    def put_bytes(self, path, data, content_type, *, metadata=None):
        if "/progress/" in path:
            if self._unavailable:
                raise StorageUnavailableError("down")
            self.writes.append(json.loads(metadata[COUNTS_METADATA_KEY]))
        return super().put_bytes(path, data, content_type, metadata=metadata)


def _delete_tags(world: World, store: MemoryStore):
    job = world.job("delete")
    pid = job["projectIds"][0]
    while (result := run_delete_unit(job, unit("tags", pid), world.runtime(store)))["next"] is not None:
        pass
    return result


def test_a_delete_unit_shows_how_many_it_has_deleted_while_it_runs(world: World, monkeypatch):
    # Before: a delete unit's counts came only with its result, so a 100,000-image delete showed its
    # images category without counts until each project's unit ended.
    monkeypatch.setattr(erasure, "DELETE_PROGRESS_SECONDS", 0.0)
    store = _ProgressLog()
    result = _delete_tags(world, store)
    tags = SPEC.tags_per_project
    assert store.writes == [{"tagsTargeted": tags, "tagsDeleted": n} for n in range(tags + 1)]
    assert item_counts(result) == {"tagsTargeted": tags, "tagsDeleted": tags}


def test_a_delete_unit_records_its_progress_at_most_every_interval(world: World):
    store = _ProgressLog()
    _delete_tags(world, store)  # three DeleteTag steps within far less than the interval
    assert store.writes == [{"tagsTargeted": SPEC.tags_per_project, "tagsDeleted": 0}]


def test_a_delete_unit_whose_progress_cannot_be_written_deletes_all_the_same(world: World, monkeypatch):
    monkeypatch.setattr(erasure, "DELETE_PROGRESS_SECONDS", 0.0)
    result = _delete_tags(world, _ProgressLog(unavailable=True))
    assert result["state"] == "succeeded"
    assert result["verified"] is True
    assert item_counts(result)["tagsDeleted"] == SPEC.tags_per_project


def test_a_delete_unit_s_items_and_its_calls_stay_together_whichever_was_recorded_last():
    # A delete unit records its items while it deletes; the activity records its calls after each
    # call of it (those before its time budget ran out had no items yet). Each keeps the other's.
    store = MemoryStore()
    job = _job()
    record_unit_counts(store, job, "images", "p1", {"imagesTargeted": 400, "imagesDeleted": 0})
    record_progress(store, job, {}, _result("images", "p1", apiCalls=5))
    record_unit_counts(store, job, "images", "p1", {"imagesTargeted": 400, "imagesDeleted": 100})
    record_progress(store, job, {"apiCalls": 5}, _result("images", "p1", apiCalls=3))
    record_unit_counts(store, job, "images", "p10", {"imagesTargeted": 7, "imagesDeleted": 7})
    assert progress_by_unit(store, "r1", 1) == {
        "images": {"imagesTargeted": 407, "imagesDeleted": 107, "apiCalls": 8}
    }
