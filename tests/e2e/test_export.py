"""Export end to end: HTTP → orchestrator → activities → emulator → Azurite, checked file by file."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import jsonschema
import pytest

from emulator.blobs import blob_bytes
from emulator.seed import QUOTED_SUBJECT

pytestmark = [pytest.mark.services, pytest.mark.slow]

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text())


def original_bytes(stack, kind: str, project_id: str, item_id: str) -> bytes:
    found = blob_bytes(stack.state, kind, project_id, item_id, "original.png")
    assert found is not None, f"{kind} {item_id} is not in the emulator"
    return found[0]


def durable_state_holds(host, value: str) -> bool:
    return any(value.encode() in path.read_bytes() for path in host.state_dir.rglob("*") if path.is_file())


def secrets_absent(stack, key: str) -> list[str]:
    """Every place a training key must never appear: blobs, host log, Durable state on disk."""
    host = stack.host
    leaks = []
    container = stack.folder("").container
    for blob in container.list_blobs():
        if key.encode() in container.download_blob(blob.name).readall():
            leaks.append(f"blob {blob.name}")
    if key in host.log_path.read_text(errors="replace"):
        leaks.append("host log")
    if durable_state_holds(host, key):
        leaks.append("durable state")
    return leaks


@pytest.fixture(scope="module")
def whole_export(stack, host):
    # One image deleted from the workspace without allIterations: trained iterations still hold it.
    project = next(iter(stack.account("export").projects.values()))
    iteration = next(it for it in project.iterations.values() if it.image_ids)
    orphan = project.images[sorted(iteration.image_ids)[0]]
    assert sum(orphan.id in it.image_ids for it in project.iterations.values()) >= 2  # dedupe is exercised
    orphan.in_workspace = False
    project.changed()
    body = stack.body("export", operation="export")
    accepted = host.submit(body)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Location"].endswith(f"/api/requests/{body['requestId']}")
    assert int(accepted.headers["Retry-After"]) > 0
    finished = host.wait(body["requestId"])
    return body, finished, stack.folder(body["requestId"])


def test_export_succeeds_with_every_category(whole_export):
    _, finished, _ = whole_export
    document = finished.json()
    assert finished.status_code == 200, document
    jsonschema.validate(document, SCHEMA)
    assert document["state"] == "succeeded"
    assert {name: entry["state"] for name, entry in document["categories"].items()} == {
        name: "succeeded" for name in document["request"]["categories"]
    }
    assert len(document["categories"]) == 9
    assert document["completedAt"] is not None


def test_manifest_lists_every_file_with_its_sha256(stack, whole_export):
    body, finished, folder = whole_export
    root = f"{body['requestId']}/export"
    manifest = folder.json(f"{root}/manifest.json")
    listed = {entry["path"]: entry for entry in manifest["files"]}
    on_disk = {name.removeprefix(root + "/") for name in folder.names() if name.startswith(root + "/")}
    assert set(listed) == on_disk - {"manifest.json"}
    for path, entry in listed.items():
        data = folder.read(f"{root}/{path}")
        assert entry["bytes"] == len(data), path
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), path
    reference = finished.json()["manifest"]
    assert reference["sha256"] == hashlib.sha256(folder.read(reference["path"])).hexdigest()
    assert stack.records(body["requestId"]).json(f"{body['requestId']}/status.json") == finished.json()


def test_projects_tags_iterations_and_models_match_the_emulator(stack, whole_export):
    body, _, folder = whole_export
    root = f"{body['requestId']}/export"
    account = stack.account("export")
    projects = folder.json(f"{root}/projects.json")
    assert {p["project"]["id"] for p in projects} == set(account.projects)
    tags = folder.json(f"{root}/tags.json")
    iterations = folder.json(f"{root}/iterations.json")
    models = folder.json(f"{root}/exported-models.json")
    for pid, project in account.projects.items():
        assert {t["id"] for t in tags[pid]} == set(project.tags)
        assert {i["id"] for i in iterations[pid]} == set(project.iterations)
        published = {i["id"] for i in iterations[pid] if i.get("publishName")}
        assert published == {i.id for i in project.published_iterations()}
    expected_models = sum(len(it.exports) for p in account.projects.values() for it in p.iterations.values())
    assert len(models) == expected_models > 0
    assert all(m["export"]["downloadUri"] for m in models)
    details = folder.json(f"{root}/iteration-details.json")
    assert sum(len(v) for v in details.values()) == sum(len(p.iterations) for p in account.projects.values())


def test_every_image_is_exported_once_with_its_original_bytes(stack, whole_export):
    body, finished, folder = whole_export
    root = f"{body['requestId']}/export"
    account = stack.account("export")
    records = [
        record
        for name in folder.names()
        if name.startswith(f"{root}/images/") and name.endswith(".ndjson")
        for record in folder.ndjson(name)
    ]
    exported = {record["id"]: record for record in records}
    assert len(exported) == len(records)  # no image twice, though two iterations hold the orphan
    orphans = {i for i, r in exported.items() if r["onlyInIteration"]}
    assert len(orphans) == 1
    for pid, project in account.projects.items():
        expected = set(project.images)  # the workspace's and the one only iterations still hold
        got = {i for i, r in exported.items() if f"/images/{pid}/" in (r["exportedFile"] or "")}
        assert got == expected
        for image_id in expected:
            original = original_bytes(stack, "images", pid, image_id)
            assert folder.read(exported[image_id]["exportedFile"]) == original
    tagged = sum(1 for r in exported.values() if r.get("tags"))
    assert 0 < tagged < len(exported)  # both tagged and untagged images were exported
    assert finished.json()["categories"]["images"]["counts"]["images"] == len(exported)


def test_predictions_are_exported_with_their_images(stack, whole_export):
    body, _, folder = whole_export
    account = stack.account("export")
    for pid, project in account.projects.items():
        records = folder.ndjson(f"{body['requestId']}/export/predictions/{pid}/predictions.ndjson")
        assert {r["id"] for r in records} == set(project.predictions)
        for record in records:
            original = original_bytes(stack, "predictions", pid, record["id"])
            assert folder.read(record["exportedFile"]) == original


def test_account_info_and_index_page(stack, whole_export):
    body, _, folder = whole_export
    root = f"{body['requestId']}/export"
    info = folder.json(f"{root}/account-info.json")
    assert info["trainingKeySecret"] == stack.secret_name("export")
    assert info["trainingKeyFingerprint"].startswith("sha256:")
    page = folder.read(f"{root}/index.html").decode()
    for project in stack.account("export").projects.values():
        assert project.name in page
    assert "<script" not in page
    assert page.count("<img") > 0


def test_no_training_key_in_blobs_logs_or_durable_state(stack, whole_export):
    assert secrets_absent(stack, stack.keys[stack.account("export").name]) == []


@pytest.mark.parametrize("subject", ["subject-001", QUOTED_SUBJECT])
def test_subject_scoped_export_returns_exactly_that_subjects_images(stack, host, subject):
    body = stack.body("subject-export", operation="export", subject={"metadata": {"subjectId": subject}})
    assert host.submit(body).status_code == 202
    finished = host.wait(body["requestId"])
    document = finished.json()
    assert finished.status_code == 200, document
    assert set(document["categories"]) == {"images", "predictions"}
    assert document["categories"]["predictions"]["state"] == "not_attributable"
    assert subject not in json.dumps(document)  # metadata values are not echoed
    assert not durable_state_holds(host, subject)  # nor kept in orchestration history
    assert not durable_state_holds(host, json.dumps(subject)[1:-1])
    folder = stack.folder(body["requestId"])
    exported = {
        record["id"] for name in folder.names() if name.endswith(".ndjson") for record in folder.ndjson(name)
    }
    expected = {
        image.id
        for project in stack.account("subject-export").projects.values()
        for image in project.images.values()
        if image.in_workspace and image.metadata.get("subjectId") == subject
    }
    assert expected
    assert exported == expected


def test_one_listing_of_each_trained_iteration_serves_images_and_performance(stack, whole_export):
    _, finished, _ = whole_export
    categories = finished.json()["categories"]
    performance, images = categories["iterationPerformance"], categories["images"]
    assert performance["files"]
    assert all("/export/iteration-performance/" in f["path"] for f in performance["files"])
    assert not any("/export/iteration-performance/" in f["path"] for f in images["files"])
    account = stack.account("export")
    trained = sum(len(p.iterations) for p in account.projects.values())
    assert performance["counts"]["iterations"] == trained
    tagged_held = sum(
        sum(1 for i in it.image_ids if i in p.images and p.images[i].tag_ids)
        for p in account.projects.values()
        for it in p.iterations.values()
    )
    assert performance["counts"]["imagePerformances"] == tagged_held
    assert images["counts"]["apiCalls"] > 0


def test_iteration_performance_alone_lists_each_trained_iteration(stack, host):
    body = stack.body("export", operation="export", categories=["iterationPerformance"])
    assert host.submit(body).status_code == 202
    finished = host.wait(body["requestId"])
    assert finished.status_code == 200, finished.text
    entry = finished.json()["categories"]["iterationPerformance"]
    account = stack.account("export")
    assert entry["counts"]["iterations"] == sum(len(p.iterations) for p in account.projects.values())
    folder = stack.folder(body["requestId"])
    summaries = [f["path"] for f in entry["files"] if f["path"].endswith(".json")]
    assert len(summaries) == entry["counts"]["iterations"]
    assert folder.json(summaries[0])["performance"]["perTagPerformance"]


def test_a_running_export_shows_how_far_its_units_have_got(stack, host):
    # Before: a running category showed no counts at all until every unit of it had finished, so a
    # long export said nothing of its progress for many minutes.
    account = stack.account("progress")
    stored = {pid: len(project.predictions) for pid, project in account.projects.items()}
    injector = account.controls.injector
    # One QueryPredictions call per project: the second project's unit waits at its first.
    hold = injector.hold("QueryPredictions", after=1, then="apply")
    body = stack.body("progress", operation="export", categories=["predictions"])
    try:
        assert host.submit(body).status_code == 202
        assert hold.reached.wait(60), "no second QueryPredictions call was made"
        deadline = time.monotonic() + 60
        while True:
            polled = host.status(body["requestId"])
            predictions = polled.json()["categories"]["predictions"]
            if predictions["counts"].get("predictions"):
                break
            assert time.monotonic() < deadline, polled.json()
            time.sleep(0.1)
        assert polled.status_code == 202
        assert predictions["state"] == "running"
        assert predictions["counts"]["predictions"] in set(stored.values())  # the unit that has finished
        jsonschema.validate(polled.json(), SCHEMA)
    finally:
        injector.release_holds()
    finished = host.wait(body["requestId"]).json()
    assert finished["categories"]["predictions"]["counts"]["predictions"] == sum(stored.values())
