"""Operators control running and finished requests: cancel, retry the failed categories, the connector
document served by the app."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from tests.api.openapi_contract import check_response, document

pytestmark = [pytest.mark.services, pytest.mark.slow]


def wait_until(host, request_id: str, ready, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = host.status(request_id).json()
        if ready(answer):
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.1)


def test_openapi_document_is_served_for_this_host_behind_the_key(host):
    assert requests.get(f"{host.api}/openapi.json", timeout=10).status_code == 401
    response = requests.get(f"{host.api}/openapi.json", params={"code": host.function_key}, timeout=10)
    assert response.status_code == 200
    served = response.json()
    assert served["host"] == f"127.0.0.1:{host.port}"
    assert served["schemes"] == ["http"]
    assert served["paths"] == document()["paths"]
    check_response(response)


def test_location_keeps_the_code_the_caller_used(stack, host):
    body = stack.body("export", operation="export", categories=["projects"])
    response = requests.post(
        f"{host.api}/requests", json=body, params={"code": host.function_key}, timeout=30
    )
    check_response(response)
    assert response.status_code == 202
    location = response.headers["Location"]
    assert "code=" in location
    assert requests.get(location, timeout=30).status_code in (200, 202)  # no header: the code suffices
    host.wait(body["requestId"])


def test_cancel_stops_a_delete_and_keeps_the_receipts_of_what_it_deleted(stack, host):
    account = stack.account("cancel")
    controls = account.controls
    body = stack.body("cancel", operation="delete", categories=["images", "tags"])
    controls.fail_next("GetTags", count=100, kind="slow", delay_seconds=3)  # tags run after images
    request_id = body["requestId"]
    try:
        assert host.submit(body).status_code == 202
        wait_until(host, request_id, lambda d: d["categories"]["images"]["state"] == "succeeded")
        canceled = host.call(
            "POST", f"requests/{request_id}/cancel", json={"by": "ops", "reason": "ticket 9"}
        )
    finally:
        controls.faults.clear()
    assert canceled.status_code == 200, canceled.text
    document = canceled.json()
    assert document["state"] == "canceled"
    assert document["cancellation"]["by"] == "ops"
    assert document["cancellation"]["reason"] == "ticket 9"
    images = document["categories"]["images"]
    assert images["state"] == "succeeded"
    assert images["receipt"]["files"], "the images already deleted keep their receipts"
    assert all(p.images == {} for p in account.projects.values())
    assert document["categories"]["tags"]["state"] == "skipped"
    assert any(p.tags for p in account.projects.values())  # never reached
    polled = host.status(request_id)
    assert polled.status_code == 409
    assert polled.json()["cancellation"] == document["cancellation"]
    kept = stack.records(request_id)
    stored = kept.json(f"{request_id}/status.json")
    assert stored["state"] == "canceled"  # outlives the Durable history
    sealed = kept.json(images["receipt"]["files"][0]["path"])
    assert sealed["chain"]["sequence"] >= 1  # sealed into the receipt chain like a finished delete's
    again = host.call("POST", f"requests/{request_id}/cancel")
    assert again.status_code == 409


def test_a_cancel_during_a_delete_batch_lists_what_the_batch_deleted(stack, host):
    # Durable does not stop a running activity. Before, the cancel listed the receipts at once, while
    # the batch in flight went on to delete its images: the canceled document said images were
    # skipped, with no receipt for images that were gone.
    account = stack.account("cancel-in-flight")
    seeded = {pid: set(project.images) for pid, project in account.projects.items()}
    injector = account.controls.injector
    hold = injector.hold("DeleteImages", after=0, then="apply")  # the service does them when released
    body = stack.body("cancel-in-flight", operation="delete", categories=["images", "tags"])
    request_id = body["requestId"]
    answers: list[requests.Response] = []
    try:
        assert host.submit(body).status_code == 202
        assert hold.reached.wait(60), "no DeleteImages call was made"
        canceling = threading.Thread(
            target=lambda: answers.append(
                host.call("POST", f"requests/{request_id}/cancel", json={"by": "ops"})
            )
        )
        canceling.start()
        time.sleep(2)  # the orchestration is terminated while the batches are held
    finally:
        injector.release_holds()
    canceling.join(60)
    (answer,) = answers
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["state"] == "canceled"
    kept = stack.records(request_id)
    deleted: set[str] = set()
    for ref in document["categories"]["images"]["receipt"]["files"]:
        receipt = kept.json(ref["path"])
        deleted |= set(receipt["deleted"]["ids"]) | set(receipt["alreadyGone"]["ids"])
    gone = {i for pid, ids in seeded.items() for i in ids - set(account.projects[pid].images)}
    assert gone, "the held batches were carried out"
    assert deleted == gone  # every image the cancel could not stop is in a receipt
    assert any(p.tags for p in account.projects.values())  # the next phase never ran


def test_cancel_of_an_unknown_request_is_404(host):
    assert host.call("POST", "requests/no-such-request/cancel").status_code == 404


def test_retry_runs_only_the_failed_categories_under_the_same_id(stack, host):
    controls = stack.account("retry").controls
    controls.fail_next("GetTags", count=1000, status=403)
    try:
        body = stack.body("retry", operation="export", categories=["projects", "tags"])
        assert host.submit(body).status_code == 202
        first = host.wait(body["requestId"])
    finally:
        controls.faults.clear()
    request_id = body["requestId"]
    assert first.json()["state"] == "partially_succeeded"
    projects_calls = controls.counters["GetProjects"]

    retried = host.call("POST", f"requests/{request_id}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["attempt"] == 2
    assert retried.json()["categories"] == ["tags"]
    finished = host.wait(request_id)
    document = finished.json()
    assert finished.status_code == 200, document
    assert document["requestId"] == request_id
    assert document["categories"]["tags"]["state"] == "succeeded"
    assert document["categories"]["projects"] == first.json()["categories"]["projects"]  # carried over
    assert document["attempts"] == [
        {
            "attempt": 1,
            "state": "partially_succeeded",
            "startedAt": first.json()["receivedAt"],
            "completedAt": first.json()["completedAt"],
            "categories": {"projects": "succeeded", "tags": "failed"},
        }
    ]
    assert controls.counters["GetProjects"] - projects_calls <= 1  # only account resolution, no export
    assert host.call("POST", f"requests/{request_id}/retry").status_code == 409  # nothing failed now


def test_a_retry_takes_no_body_and_refuses_one_rather_than_retrying_everything(stack, host):
    # Before: the body was never read, so {"categories": ["projects"]} got a 202 retry of every failed
    # category, as if the caller had been listened to.
    controls = stack.account("retry").controls  # the retry scenario's account; faults cleared below
    controls.fail_next("GetTags", count=1000, status=403)
    try:
        body = stack.body("retry", operation="export", categories=["projects", "tags"])
        assert host.submit(body).status_code == 202
        first = host.wait(body["requestId"]).json()
    finally:
        controls.faults.clear()
    request_id = body["requestId"]
    assert first["state"] == "partially_succeeded"
    assert first["categories"]["tags"]["state"] == "failed"
    url = f"{host.api}/requests/{request_id}/retry"
    headers = {**host.headers, "Content-Type": "application/json"}
    for sent, field in (
        (b'{"categories": ["projects"]}', "categories"),
        (b'{"attempt": 2}', "attempt"),
        (b'["tags"]', "body"),
        (b"null", "body"),
        (b"tags", "body"),
        (b'{"categories": ["tags"]', "body"),
    ):
        # Not host.call: triggers/openapi.json does not declare this route's 400 yet.
        refused = requests.post(url, data=sent, headers=headers, timeout=30)
        assert refused.status_code == 400, (sent, refused.text)
        error = refused.json()["error"]
        assert (error["code"], error["field"]) == ("InvalidRequest", field), sent
    assert host.status(request_id).json() == first  # nothing was started

    retried = host.call("POST", f"requests/{request_id}/retry", data=b"")  # an empty body is no body
    assert retried.status_code == 202, retried.text
    assert (retried.json()["attempt"], retried.json()["categories"]) == (2, ["tags"])
    assert host.wait(request_id).json()["categories"]["tags"]["state"] == "succeeded"


@pytest.mark.parametrize("host_settings", [{"DSR_DELETE_VERIFY_TIMEOUT_SECONDS": "0"}])
def test_a_retry_verifies_again_what_the_service_deleted_after_the_deadline(stack, fresh_host):
    # Before: the request succeeded with images verified:false and could not be retried (409), so
    # its certificate said "not verified" for good though the images were gone a moment later.
    account = stack.account("reverify")
    account.controls.knobs.delete_delay_seconds = 2.0  # 202: images stay listed this long
    body = stack.body("reverify", operation="delete", categories=["images", "tags"])
    request_id = body["requestId"]
    assert fresh_host.submit(body).status_code == 202
    first = fresh_host.wait(request_id).json()
    assert first["state"] == "succeeded"
    assert first["categories"]["images"]["verified"] is False
    assert first["categories"]["tags"]["verified"] is True
    time.sleep(2.5)  # the service finishes the deletes
    deletes = account.controls.counters["DeleteImages"]

    retried = fresh_host.call("POST", f"requests/{request_id}/retry")
    assert retried.status_code == 202, retried.text
    assert (retried.json()["attempt"], retried.json()["categories"]) == (2, ["images"])
    finished = fresh_host.wait(request_id)
    document = finished.json()
    assert finished.status_code == 200, document
    images = document["categories"]["images"]
    assert images["verified"] is True
    assert images["counts"]["imagesDeleted"] == first["categories"]["images"]["counts"]["imagesDeleted"]
    assert document["categories"]["tags"] == first["categories"]["tags"]  # carried over
    assert account.controls.counters["DeleteImages"] == deletes  # it looked again, deleted nothing
    paths = [ref["path"] for ref in images["receipt"]["files"]]
    assert paths
    assert all(path.endswith(".attempt-02.json") for path in paths)
    records = stack.records(request_id)
    for ref in images["receipt"]["files"]:
        sealed = json.loads(records.read(ref["path"]))
        assert sealed["verification"]["verified"] is True
        assert sealed["chain"]["sequence"] > 1
    for ref in first["categories"]["images"]["receipt"]["files"]:  # attempt 1's stay as sealed
        assert json.loads(records.read(ref["path"]))["verification"]["verified"] is False
    certificate = json.loads(records.read(document["receipt"]["json"]["path"]))
    assert next(c for c in certificate["categories"] if c["category"] == "images")["verified"] is True
    assert fresh_host.call("POST", f"requests/{request_id}/retry").status_code == 409  # verified now


def list_all(host, **params) -> list[dict]:
    rows, answer = [], host.call("GET", "requests", params=params)
    while True:
        assert answer.status_code == 200, answer.text
        page = answer.json()
        rows.extend(page["requests"])
        if page["nextLink"] is None:
            return rows
        answer = requests.get(page["nextLink"], headers=host.headers, timeout=30)
        check_response(answer)


def test_list_pages_through_the_records_and_filters_by_state_and_operation(stack, host):
    export = stack.body("projects-only", operation="export", categories=["projects"])
    dry_run = stack.body("dry-run", operation="delete", categories=["tags"], dryRun=True)
    for body in (export, dry_run):
        assert host.submit(body).status_code == 202
    for body in (export, dry_run):
        assert host.wait(body["requestId"]).status_code == 200

    everything = list_all(host, pageSize="2")
    ids = [row["requestId"] for row in everything]
    assert len(ids) == len(set(ids)) >= 2  # paged without repeats
    assert ids == sorted(ids, key=lambda i: f"{i}.json")  # the order Blob Storage lists records in
    assert {export["requestId"], dry_run["requestId"]} <= set(ids)

    deletes = list_all(host, operation="delete", state="succeeded", pageSize="50")
    assert dry_run["requestId"] in {row["requestId"] for row in deletes}
    assert all(row["operation"] == "delete" and row["state"] == "succeeded" for row in deletes)
    assert export["requestId"] not in {row["requestId"] for row in deletes}
    row = next(r for r in deletes if r["requestId"] == dry_run["requestId"])
    assert row["receivedAt"] == host.status(dry_run["requestId"]).json()["receivedAt"]

    for params, field in (
        ({"state": "done"}, "state"),
        ({"pageSize": "0"}, "pageSize"),
        ({"continuationToken": "not*base64"}, "continuationToken"),
    ):
        refused = host.call("GET", "requests", params=params)
        assert refused.status_code == 400, params
        assert refused.json()["error"]["field"] == field


@pytest.mark.parametrize("host_settings", [{"DSR_APPROVAL_REQUIRED": "true"}])
def test_list_shows_requests_in_progress_with_their_live_state(stack, fresh_host):
    body = stack.body("approval", operation="delete", categories=["tags"])
    assert fresh_host.submit(body).status_code == 202
    wait_until(fresh_host, body["requestId"], lambda d: d["state"] == "awaiting_approval")
    waiting = list_all(fresh_host, state="awaiting_approval")
    assert body["requestId"] in {row["requestId"] for row in waiting}
    canceled = fresh_host.call("POST", f"requests/{body['requestId']}/cancel", json={"by": "ops"})
    assert canceled.status_code == 200
    assert body["requestId"] in {row["requestId"] for row in list_all(fresh_host, state="canceled")}
