"""The package step on an in-memory store: escaping, paging, records with fields left out, the manifest,
and the erasure certificate (a dry run's marked as a preview)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

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
