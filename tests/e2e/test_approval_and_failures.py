"""The optional approval gate for deletes, and per-category isolation when the API keeps failing."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = [pytest.mark.services, pytest.mark.slow]


def wait_for_state(host, request_id: str, state: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        document = host.status(request_id).json()
        if document["state"] == state:
            return document
        assert time.monotonic() < deadline, document
        time.sleep(0.1)


def approve(host, request_id: str, body: dict) -> requests.Response:
    return host.call("POST", f"requests/{request_id}/approve", json=body)  # checked against the OpenAPI


@pytest.mark.parametrize("host_settings", [{"DSR_APPROVAL_REQUIRED": "true"}])
def test_delete_waits_for_approval_and_records_who_approved(stack, fresh_host):
    account = stack.account("approval")
    project_id = sorted(account.projects)[0]
    body = stack.body("approval", operation="delete", projectIds=[project_id], categories=["tags"])
    assert fresh_host.submit(body).status_code == 202
    waiting = wait_for_state(fresh_host, body["requestId"], "awaiting_approval")
    assert waiting["approval"]["deadline"]
    assert account.projects[project_id].tags  # nothing deleted before the decision
    assert approve(fresh_host, body["requestId"], {"decision": "approve"}).json()["error"]["field"] == "by"
    left_out = approve(fresh_host, body["requestId"], {"by": "dpo@example.com"})
    assert left_out.json()["error"]["field"] == "decision"  # never approved by a field left out
    spoofed = {"x-ms-client-principal-name": "ceo@contoso.com"}  # no App Service authentication here
    decision = {"by": "dpo@example.com", "decision": "approve", "comment": "ticket 42"}
    answer = fresh_host.call("POST", f"requests/{body['requestId']}/approve", json=decision, headers=spoofed)
    assert answer.status_code == 202
    finished = fresh_host.wait(body["requestId"])
    document = finished.json()
    assert finished.status_code == 200, document
    assert document["approval"]["decision"] == "approve"
    assert document["approval"]["by"] == "dpo@example.com"
    assert document["approval"]["principal"] is None
    assert account.projects[project_id].tags == {}
    assert approve(fresh_host, body["requestId"], {"by": "late", "decision": "approve"}).status_code == 409


@pytest.mark.parametrize("host_settings", [{"DSR_APPROVAL_REQUIRED": "true"}])
def test_rejected_delete_deletes_nothing_and_reports_canceled(stack, fresh_host):
    account = stack.account("approval")
    before = {pid: set(p.images) for pid, p in account.projects.items()}
    body = stack.body("approval", operation="delete", categories=["images"])
    assert fresh_host.submit(body).status_code == 202
    wait_for_state(fresh_host, body["requestId"], "awaiting_approval")
    assert approve(fresh_host, body["requestId"], {"by": "dpo", "decision": "reject"}).status_code == 202
    finished = fresh_host.wait(body["requestId"])
    assert finished.status_code == 409
    assert finished.json()["state"] == "canceled"
    assert {pid: set(p.images) for pid, p in account.projects.items()} == before


@pytest.mark.parametrize(
    "host_settings", [{"DSR_APPROVAL_REQUIRED": "true", "DSR_APPROVAL_TIMEOUT_HOURS": "0.0003"}]
)
def test_unapproved_delete_expires(stack, fresh_host):
    body = stack.body("approval", operation="delete", categories=["images"])
    assert fresh_host.submit(body).status_code == 202
    finished = fresh_host.wait(body["requestId"], timeout=30)
    document = finished.json()
    assert finished.status_code == 409
    assert document["approval"]["decision"] == "expired"
    assert stack.account("approval").projects  # still there


def test_one_failing_category_does_not_stop_the_others(stack, host):
    controls = stack.account("faults").controls
    controls.fail_next("GetTags", count=1000, status=403)  # a permanent refusal: not retried
    try:
        body = stack.body("faults", operation="export", categories=["tags", "projects", "iterationList"])
        assert host.submit(body).status_code == 202
        finished = host.wait(body["requestId"])
    finally:
        controls.faults.clear()
    document = finished.json()
    assert finished.status_code == 500  # a Logic Apps step polling this sees failure
    assert document["state"] == "partially_succeeded"
    assert document["categories"]["tags"]["state"] == "failed"
    assert "ForbiddenError" in document["categories"]["tags"]["error"]
    assert document["categories"]["projects"]["state"] == "succeeded"
    assert document["categories"]["iterationList"]["state"] == "succeeded"


def test_throttling_and_transient_faults_are_ridden_out(stack, host):
    controls = stack.account("faults").controls
    # One call per second: an export of a few calls at minimal cost still meets 429s.
    controls.knobs.rate_limit_per_second = 1
    controls.throttled.clear()
    controls.fail_next("GetIterations", count=2, status=503)
    controls.fail_next("GetTags", count=1, kind="reset")
    try:
        body = stack.body(
            "faults", operation="export", categories=["tags", "iterationList", "iterationDetails"]
        )
        assert host.submit(body).status_code == 202
        finished = host.wait(body["requestId"], timeout=120)
    finally:
        controls.knobs.rate_limit_per_second = None
    assert finished.status_code == 200, finished.text
    assert finished.json()["state"] == "succeeded"
    assert sum(controls.throttled.values()) > 0  # the service did answer 429 along the way
    shown = sum(entry["counts"].get("throttled", 0) for entry in finished.json()["categories"].values())
    assert 0 < shown <= sum(controls.throttled.values())  # and the status document says so
