"""The package step on an in-memory store: escaping, paging, records with fields left out, the manifest,
and the erasure certificate (a dry run's marked as a preview)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from dsr.package.export_package import write_export_package
from dsr.package.pages import IMAGES_PER_PAGE
from dsr.package.receipt import write_certificate
from dsr.storage import put_json, put_ndjson
from tests.functional.documents import finished_export
from tests.functional.fakes import MemoryStore

HOSTILE = '<script>alert("x")</script>'
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PID = "11111111-1111-4111-8111-111111111111"


def _document(store: MemoryStore, images: int) -> dict:
    root = "req-1/export"
    records = [
        {
            "id": f"img-{n:05d}",
            "width": 40,
            "height": 30,
            "metadata": {"note": HOSTILE},
            "exportedFile": f"{root}/images/{PID}/img-{n:05d}.png",
            "exportedFileBytes": 3,
            "exportedFileSha256": "0" * 64,
        }
        for n in range(images)
    ]  # no tags, regions or created: fields the service may leave out
    part = put_ndjson(store, f"{root}/images/{PID}/images-0000000.ndjson", records)
    tags = put_json(store, f"{root}/tags.json", {PID: [{"id": "t", "name": HOSTILE}]})  # no description
    return finished_export("req-1", {"id": PID, "name": HOSTILE}, tags, [part], images)


def test_values_are_escaped_and_images_are_paged():
    store = MemoryStore()
    images = 2 * IMAGES_PER_PAGE + 1
    package = write_export_package(store, store, _document(store, images), NOW)
    index = store.get_bytes(package.index.path).decode()
    assert "<script" not in index
    assert "&lt;script&gt;" in index
    pages = sorted(p for p in store.files if "/pages/" in p)
    assert pages == [f"req-1/export/pages/{PID}/images-{n:04d}.html" for n in (1, 2, 3)]
    first, middle, last = (store.get_bytes(p).decode() for p in pages)
    for page in (first, middle, last):
        assert "<script" not in page
    assert first.count("<img ") == middle.count("<img ") == IMAGES_PER_PAGE
    assert last.count("<img ") == 1
    assert 'rel="next"' in middle
    assert 'rel="prev"' in middle
    assert 'rel="next"' not in last
    assert 'loading="lazy"' in first
    assert 'alt=""' not in first


def test_manifest_lists_units_records_and_pages():
    store = MemoryStore()
    package = write_export_package(store, store, _document(store, 3), NOW)
    manifest = json.loads(store.get_bytes(package.manifest.path))
    paths = {entry["path"] for entry in manifest["files"]}
    assert f"images/{PID}/img-00000.png" in paths  # from the record, not from a listing
    assert {"tags.json", "index.html", f"images/{PID}/coco.json", f"pages/{PID}/images-0001.html"} <= paths
    assert manifest["fileCount"] == len(manifest["files"])


def _delete_document(store: MemoryStore, dry_run: bool) -> dict:
    receipt = {
        "projectId": PID,
        "targeted": {"count": 2, "ids": ["a", "b"]},
        "deleted": {"count": 0 if dry_run else 2, "ids": []},
        "alreadyGone": {"count": 0, "ids": []},
        "calls": [],
        "verification": None
        if dry_run
        else {"verified": True, "method": "GetTags re-list", "checkedAt": "2026-01-01T00:00:01Z"},
    }
    ref = put_json(store, f"req-2/receipts/tags/{PID}.json", receipt)
    return {
        "requestId": "req-2",
        "operation": "delete",
        "state": "succeeded",
        "receivedAt": "2026-01-01T00:00:00Z",
        "completedAt": "2026-01-01T00:00:02Z",
        "request": {
            "account": {"endpoint": "https://x.cognitiveservices.azure.com", "trainingKeySecret": "s"},
            "categories": ["tags"],
            "projectIds": None,
            "subject": None,
            "dryRun": dry_run,
        },
        "categories": {"tags": {"state": "succeeded", "counts": {}, "receipt": {"files": [ref.to_json()]}}},
        "approval": {"required": True, "deadline": "2026-01-02T00:00:00Z", "decision": "expired"},
        "projects": [{"id": PID, "name": HOSTILE}],
    }


def test_certificate_and_preview():
    store = MemoryStore()
    for dry_run in (False, True):
        document = _delete_document(store, dry_run)
        certificate = write_certificate(store, store, document, NOW)
        page = store.get_bytes(certificate.html.path).decode()
        assert certificate.preview is dry_run
        assert ("Erasure preview (dry run)" in page) is dry_run
        assert ("Erasure certificate" in page) is not dry_run
        assert certificate.json.sha256 in page
        assert document["categories"]["tags"]["receipt"]["files"][0]["sha256"] in page
        assert "<script" not in page
        facts = json.loads(store.get_bytes(certificate.json.path))
        assert facts["categories"][0]["units"][0]["targeted"] == 2
        assert "ids" not in json.dumps(facts["categories"])  # counts here; the ids stay in the unit files


# A project projects.json does not name. _project_list used to take projects.json alone when it
# existed, while every unit file went into the manifest: a project deleted before the (retried)
# projects unit listed it, or listed after the concurrent images unit exported its images, kept its
# NDJSON parts in manifest.json and the zip, but lost the originals its records point at, its pages
# and its coco.json. The package now covers projects.json, the status document's projects, and every
# project with image or prediction parts.
GONE = "22222222-2222-4222-8222-222222222222"


def _document_without_gone_in_projects_json(store: MemoryStore, gone_in_status: bool) -> dict:
    root = "req-1/export"
    image = store.put_bytes(f"{root}/images/{GONE}/img-1.png", b"\x89PNG\r\n\x1a\nxx", "image/png")
    images = put_ndjson(
        store,
        f"{root}/images/{GONE}/images-0000000.ndjson",
        [
            {
                "id": "img-1",
                "tags": [{"tagId": "t-1", "tagName": "cat"}],
                "exportedFile": image.path,
                "exportedFileBytes": image.size,
                "exportedFileSha256": image.sha256,
            }
        ],
    )
    stored = store.put_bytes(f"{root}/predictions/{GONE}/pred-1.png", b"\x89PNG\r\n\x1a\nyy", "image/png")
    predictions = put_ndjson(
        store,
        f"{root}/predictions/{GONE}/predictions.ndjson",
        [
            {
                "id": "pred-1",
                "predictions": [],
                "exportedFile": stored.path,
                "exportedFileBytes": stored.size,
                "exportedFileSha256": stored.sha256,
            }
        ],
    )
    tags = put_json(store, f"{root}/tags.json", {})
    listed = [{"project": {"id": PID, "name": "kept", "created": "2025-05-05T00:00:00Z"}, "counts": {}}]
    projects = put_json(store, f"{root}/projects.json", listed)
    document = finished_export("req-1", {"id": PID, "name": "kept"}, tags, [images], 1)
    if gone_in_status:
        document["projects"].append({"id": GONE, "name": "gone project"})
    document["request"]["categories"] += ["projects", "predictions"]
    document["categories"]["projects"] = {"state": "succeeded", "counts": {}, "files": [projects.to_json()]}
    document["categories"]["predictions"] = {
        "state": "succeeded",
        "counts": {"predictions": 1},
        "files": [predictions.to_json()],
    }
    return document


@pytest.mark.parametrize("gone_in_status", [True, False], ids=["in-status-document", "only-in-parts"])
def test_a_project_projects_json_does_not_name_keeps_its_originals_pages_and_coco(gone_in_status: bool):
    store = MemoryStore()
    document = _document_without_gone_in_projects_json(store, gone_in_status)
    package = write_export_package(store, store, document, NOW, zip=True)
    paths = [f["path"] for f in json.loads(store.get_bytes(package.manifest.path))["files"]]
    assert len(paths) == len(set(paths))
    assert {
        f"images/{GONE}/images-0000000.ndjson",
        f"images/{GONE}/img-1.png",
        f"images/{GONE}/coco.json",
        f"pages/{GONE}/images-0001.html",
        f"predictions/{GONE}/predictions.ndjson",
        f"predictions/{GONE}/pred-1.png",
        f"pages/{GONE}/predictions-0001.html",
    } <= set(paths)
    assert package.zip is not None
    with zipfile.ZipFile(io.BytesIO(store.get_bytes(package.zip.path))) as archive:
        assert f"images/{GONE}/img-1.png" in archive.namelist()
    coco = json.loads(store.get_bytes(f"req-1/export/images/{GONE}/coco.json"))
    assert [i["file_name"] for i in coco["images"]] == ["img-1.png"]
    assert [c["name"] for c in coco["categories"]] == ["cat"]
    index = store.get_bytes(package.index.path).decode()
    assert index.count(f'id="project-{PID}"') == index.count(f'id="project-{GONE}"') == 1
    assert "2025-05-05T00:00:00Z" in index  # projects.json's full record still wins for the project it names
    page = store.get_bytes(f"req-1/export/pages/{GONE}/images-0001.html").decode()
    assert ("gone project" in page) is gone_in_status  # the status document's name where it is known
    assert coco["info"]["cv_project_name"] == ("gone project" if gone_in_status else "")
