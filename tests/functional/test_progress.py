"""Progress of a running request: the counts its paging units reported so far, shown while it runs."""

from __future__ import annotations

from datetime import datetime

from dsr import layout
from dsr.contract import parse_request
from dsr.progress import COUNTS_METADATA_KEY, progress_by_unit, record_progress
from dsr.status import initial_document, with_progress
from dsr.units import empty_result
from tests.functional.fakes import MemoryStore


def _result(category: str, project: str, **counts: int):
    result = empty_result({"category": category, "projectId": project, "cursor": None}, "succeeded")
    result["counts"] = counts
    return result


def test_each_unit_keeps_its_latest_total_and_a_poll_sums_the_units_of_a_category():
    store = MemoryStore()
    record_progress(store, "r1", {}, _result("images", "p1", images=100, apiCalls=9))
    record_progress(
        store, "r1", {"images": 100, "apiCalls": 9}, _result("images", "p1", images=50, apiCalls=4)
    )
    record_progress(store, "r1", {}, _result("images", "p2", images=7, apiCalls=2))
    record_progress(store, "r1", {}, _result("predictions", "p1", predictions=3))
    record_progress(store, "r2", {}, _result("images", "p1", images=1000))  # another request's
    assert progress_by_unit(store, "r1") == {
        "images": {"images": 157, "apiCalls": 15},
        "predictions": {"predictions": 3},
    }
    path = layout.unit_progress("r1", "images", "p1")
    assert store.files[path][0] == b""  # counts only, in metadata: nothing personal to keep
    store.metadata[path][COUNTS_METADATA_KEY] = "not json"
    assert progress_by_unit(store, "r1")["images"] == {"images": 7, "apiCalls": 2}


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
