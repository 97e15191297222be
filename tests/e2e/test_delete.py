"""Delete end to end: ordered, scoped, verified deletion with receipts, dry runs and crash recovery."""

from __future__ import annotations

import hashlib
import json
import time

import jsonschema
import pytest

from tests.e2e.test_export import SCHEMA, secrets_absent

pytestmark = [pytest.mark.services, pytest.mark.slow]


def data_of(stack, scenario: str) -> dict:
    """What an account holds, without the call counters (which a dry run does change)."""
    snapshot = stack.state.snapshot()["accounts"][stack.account(scenario).name]
    return snapshot["projects"]


def run(host, body: dict) -> dict:
    accepted = host.submit(body)
    assert accepted.status_code == 202, accepted.text
    finished = host.wait(body["requestId"])
    document = finished.json()
    jsonschema.validate(document, SCHEMA)
    assert finished.status_code == 200, document
    return document


def receipts(stack, document: dict) -> list[dict]:
    folder = stack.records(document["requestId"])  # the sealed receipts the document points at
    found = []
    for entry in document["categories"].values():
        for ref in (entry["receipt"] or {}).get("files", []):
            data = folder.read(ref["path"])
            assert hashlib.sha256(data).hexdigest() == ref["sha256"]
            found.append(json.loads(data))
    return found


def test_delete_whole_account_in_order_and_verified(stack, host):
    account = stack.account("delete-all")
    image_ids = {i for p in account.projects.values() for i in p.images}
    document = run(host, stack.body("delete-all", operation="delete"))
    states = {name: entry["state"] for name, entry in document["categories"].items()}
    assert states.pop("accountInfo") == "manual_action_required"
    assert states.pop("exportedModels") == "manual_action_required"
    assert set(states.values()) == {"succeeded"}
    for name in states:
        assert document["categories"][name]["verified"] is True, name
    assert account.projects == {}
    image_receipts = [r for r in receipts(stack, document) if r["category"] == "images"]
    assert {i for r in image_receipts for i in r["targeted"]["ids"]} == image_ids
    calls = [c["operation"] for r in image_receipts for c in r["calls"]]
    assert "DeleteImages" in calls
    iteration_receipts = [r for r in receipts(stack, document) if r["category"] == "iterations"]
    operations = [c["operation"] for r in iteration_receipts for c in r["calls"]]
    assert operations.index("UnpublishIteration") < operations.index("DeleteIteration")
    assert secrets_absent(stack, stack.keys[account.name]) == []


def test_delete_one_project_leaves_the_other_untouched(stack, host):
    account = stack.account("delete-project")
    doomed, kept = sorted(account.projects)
    before = data_of(stack, "delete-project")[kept]
    document = run(host, stack.body("delete-project", operation="delete", projectIds=[doomed]))
    assert document["state"] == "succeeded"
    assert doomed not in account.projects
    assert data_of(stack, "delete-project")[kept] == before


def test_delete_one_subjects_images_only(stack, host):
    account = stack.account("delete-subject")
    subject = "subject-002"
    before = data_of(stack, "delete-subject")
    theirs = {
        i.id
        for p in account.projects.values()
        for i in p.images.values()
        if i.metadata.get("subjectId") == subject
    }
    others = {i for p in account.projects.values() for i in p.images} - theirs
    assert theirs
    account.controls.knobs.delete_delay_seconds = 1.0  # 202: images linger until the service catches up
    document = run(
        host, stack.body("delete-subject", operation="delete", subject={"metadata": {"subjectId": subject}})
    )
    assert document["categories"]["images"]["state"] == "succeeded"
    assert document["categories"]["images"]["verified"] is True
    assert document["categories"]["predictions"]["state"] == "not_attributable"
    remaining = {i for p in account.projects.values() for i in p.images}
    assert remaining == others
    after = data_of(stack, "delete-subject")
    for pid, project in before.items():
        assert after[pid]["tags"] == project["tags"]
        assert after[pid]["predictions"] == project["predictions"]
        assert set(after[pid]["iterations"]) == set(project["iterations"])


def test_deleting_only_projects_unpublishes_first(stack, host):
    account = stack.account("projects-only")
    assert any(p.published_iterations() for p in account.projects.values())
    document = run(host, stack.body("projects-only", operation="delete", categories=["projects"]))
    assert document["categories"]["projects"]["verified"] is True
    assert account.projects == {}
    operations = [c["operation"] for r in receipts(stack, document) for c in r["calls"]]
    assert operations.index("UnpublishIteration") < operations.index("DeleteProject")


def test_dry_run_counts_and_changes_nothing(stack, host):
    before = data_of(stack, "dry-run")
    document = run(host, stack.body("dry-run", operation="delete", dryRun=True))
    assert data_of(stack, "dry-run") == before
    images = document["categories"]["images"]
    assert images["counts"]["imagesTargeted"] == sum(p["images"] for p in before.values())
    assert images["counts"]["imagesDeleted"] == 0
    assert images["verified"] is None
    assert all(r["dryRun"] and r["deleted"]["count"] == 0 for r in receipts(stack, document))


def test_repeating_a_finished_delete_is_harmless(stack, host):
    body = stack.body("delete-project", operation="delete", projectIds=[], categories=["tags"])
    body.pop("projectIds")
    first = run(host, body)
    again = run(host, {**body, "requestId": body["requestId"] + "-again"})
    assert first["state"] == again["state"] == "succeeded"
    assert again["categories"]["tags"]["counts"]["tagsTargeted"] == 0
    assert again["categories"]["tags"]["verified"] is True


def test_host_killed_mid_delete_finishes_after_restart(stack, fresh_host):
    account = stack.account("crash")
    account.controls.knobs.latency_seconds = 0.05  # slow enough to be caught mid-flight
    body = stack.body("crash", operation="delete")
    assert fresh_host.submit(body).status_code == 202
    deadline = time.monotonic() + 60
    while True:
        document = fresh_host.status(body["requestId"]).json()
        started = [e for e in document["categories"].values() if e["state"] != "pending"]
        if started:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    fresh_host.kill()
    assert account.projects  # the kill came before the delete finished
    fresh_host.start()
    account.controls.knobs.latency_seconds = 0.0
    finished = fresh_host.wait(body["requestId"], timeout=180)
    document = finished.json()
    assert finished.status_code == 200, document
    assert document["state"] == "succeeded"
    assert account.projects == {}


def test_a_running_delete_shows_what_it_targets_before_its_units_end(stack, host):
    # Before: a delete unit's counts came only when it ended, so a long delete's running categories
    # showed nothing of what it was deleting.
    account = stack.account("delete-progress")
    tags = sum(len(project.tags) for project in account.projects.values())
    injector = account.controls.injector
    hold = injector.hold("DeleteTag", after=0, then="apply")  # every unit waits at its first delete
    body = stack.body("delete-progress", operation="delete", categories=["tags"])
    try:
        assert host.submit(body).status_code == 202
        deadline = time.monotonic() + 60
        while True:
            polled = host.status(body["requestId"])
            entry = polled.json()["categories"]["tags"]
            if entry["counts"].get("tagsTargeted") == tags:
                break
            assert time.monotonic() < deadline, polled.json()
            time.sleep(0.1)
        assert hold.reached.is_set()
        assert polled.status_code == 202
        assert entry["state"] == "running"
        assert entry["counts"]["tagsDeleted"] == 0  # held at the first DeleteTag of each unit
        jsonschema.validate(polled.json(), SCHEMA)
    finally:
        injector.release_holds()
    finished = host.wait(body["requestId"]).json()
    assert finished["categories"]["tags"]["counts"]["tagsDeleted"] == tags
