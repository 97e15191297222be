"""Orchestrations through the real host, started and managed with the real DurableOrchestrationClient."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

import requests

from tests.devhost.devhost_client import FUNCTION_KEY, SYSTEM_KEY, Client


def _iid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_fan_out_fan_in_with_custom_status(client: Client) -> None:
    status = client.run("fan_out", {"n": 25})
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == sum(i * i for i in range(25))
    assert status["customStatus"] == {"count": 25}
    # The client posts a double-encoded input, which the status API reports as the JSON text.
    assert status["input"] == '{"n": 25}'
    assert status["createdTime"].endswith("Z")
    assert len(status["createdTime"]) == 20


def test_start_response_has_check_status_links(client: Client) -> None:
    response = client.start("fan_out", {"n": 1})
    assert response.status_code == 202
    body = response.json()
    assert response.headers["Location"] == body["statusQueryGetUri"]
    assert body["statusQueryGetUri"].startswith(client.base + "/runtime/webhooks/durabletask/instances/")
    # Like Azure, management URLs carry the durabletask_extension system key, never a function key.
    assert all(f"code={SYSTEM_KEY}" in body[k] for k in body if k.endswith("Uri"))
    assert all(FUNCTION_KEY not in body[k] for k in body if k.endswith("Uri"))
    assert client.wait(body["statusQueryGetUri"])["output"] == 0


def test_activity_failure_is_catchable_with_extension_reason(client: Client) -> None:
    # Azure: the extension's prefix, then the worker's "<Type>: <message>" cut from the RpcException
    # text with its leading space (hence two spaces).
    status = client.run("catches_failure")
    assert status["output"] == "caught: Activity function 'always_fail' failed:  ValueError: boom-once"


def test_failed_task_details_carry_the_serialized_exception_and_traceback(client: Client) -> None:
    instance_id = _iid("details")
    client.run("catches_failure", instance_id=instance_id)
    history = client.manage(instance_id, "status").json()["historyEvents"]
    failed = next(e for e in history if e["EventType"] == "TaskFailed")
    assert failed["Reason"] == "Activity function 'always_fail' failed:  ValueError: boom-once"
    details = json.loads(failed["Details"])
    assert details["ClassName"] == "System.Exception"
    assert details["Message"] == " ValueError: boom-once"
    inner = details["InnerException"]
    assert inner["Message"].startswith("Result: Failure\nException: ValueError: boom-once\nStack: Traceback")
    assert 'raise ValueError("boom-" + arg)' in inner["RemoteStackTrace"]


def test_credentials_in_an_exception_message_are_scrubbed(client: Client) -> None:
    status = client.run("catches_secret")
    assert status["output"] == (
        "caught: Activity function 'leaks_secret' failed:  RuntimeError: cannot connect with"
        ' "[Hidden Credential]" (retry later)'
    )


def test_uncaught_activity_failure_fails_the_orchestration(client: Client) -> None:
    response = client.start("uncaught_failure")
    status = client.wait(response.json()["statusQueryGetUri"])
    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith(
        "Orchestrator function 'uncaught_failure' failed:"
        " Activity function 'always_fail' failed:  ValueError: boom-loud"
    )
    url = response.json()["statusQueryGetUri"]
    assert requests.get(url, timeout=5).status_code == 200
    assert requests.get(url + "&returnInternalServerErrorOnFailure=true", timeout=5).status_code == 500


def test_retry_succeeds_on_third_attempt(client: Client) -> None:
    status = client.run("retrying", {"max": 3, "fail_times": 2})
    assert status["output"] == "ok after 3 attempts"


def test_retry_exhausted_raises_last_error(client: Client) -> None:
    status = client.run("retrying", {"max": 2, "fail_times": 5})
    assert status["output"] == "exhausted: Activity function 'flaky' failed:  RuntimeError: flaky attempt 2"


def test_many_retry_chains_in_one_fan_in(client: Client) -> None:
    status = client.run("retry_fan_out")
    attempts = [f"ok after {i % 3 + 1} attempts" for i in range(6)]
    assert status["output"] == [[*attempts, 0, 1, 4, 9], 25]


def test_sub_orchestration_success(client: Client) -> None:
    assert client.run("parent", "ok")["output"] == 14


def test_sub_orchestration_failure_reaches_parent(client: Client) -> None:
    instance_id = _iid("parent")
    status = client.run("parent", "bad", instance_id=instance_id)
    assert status["output"].startswith(
        "child failed: Orchestrator function 'uncaught_failure' failed: Activity function 'always_fail'"
    )
    child = client.manage(instance_id + "-child", "status").json()
    assert child["runtimeStatus"] == "Failed"


def test_external_event_wins_over_timer(client: Client) -> None:
    instance_id = _iid("approval")
    response = client.start("approval", {"timeout": 60}, instance_id)
    url = response.json()["statusQueryGetUri"]
    client.wait_for(url, lambda s: s["customStatus"] == "waiting")
    raised = client.manage(instance_id, "raise", "POST", params={"name": "approve"}, json={"by": "bob"})
    assert raised.status_code == 200, raised.text
    status = client.wait(url)
    # Like Azure (SDK issue #295) the event payload arrives as the JSON text the client sent.
    assert status["output"] == {"approved": '{"by": "bob"}'}
    history = client.manage(instance_id, "status").json()["historyEvents"]
    assert [e["EventType"] for e in history].count("TimerFired") == 0


def test_timer_wins_when_no_event_arrives(client: Client) -> None:
    assert client.run("approval", {"timeout": 0.3})["output"] == "timed out"


def test_durable_timer_uses_real_clock(client: Client) -> None:
    assert client.run("sleeper")["output"] is True


def test_terminate_running_instance(client: Client) -> None:
    instance_id = _iid("waiter")
    url = client.start("waiter", None, instance_id).json()["statusQueryGetUri"]
    client.wait_for(url, lambda s: s["customStatus"] == {"stage": "waiting"})
    assert client.manage(instance_id, "terminate", "POST", params={"reason": "enough"}).status_code == 200
    status = client.wait(url)
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "enough"
    # Terminating again answers 410, which the client treats as success.
    assert client.manage(instance_id, "terminate", "POST").status_code == 200


def test_custom_status_is_kept_across_episodes(client: Client) -> None:
    instance_id = _iid("waiter")
    url = client.start("waiter", None, instance_id).json()["statusQueryGetUri"]
    # After the activity episode the orchestrator returns no customStatus; the old one must remain.
    status = client.wait_for(
        url, lambda s: any(e["EventType"] == "TaskCompleted" for e in _history(client, instance_id))
    )
    assert status["customStatus"] == {"stage": "waiting"}
    client.manage(instance_id, "raise", "POST", params={"name": "go"}, json=7)
    assert client.wait(url)["output"] == "7"


def _history(client: Client, instance_id: str) -> list[dict[str, object]]:
    return client.manage(instance_id, "status").json()["historyEvents"] or []


def test_continue_as_new_runs_until_done(client: Client) -> None:
    status = client.run("counter", 0)
    assert status["output"] == "finished at 3"
    assert status["input"] == "3"


def test_duplicate_running_id_is_rejected_and_finished_id_is_replaced(client: Client) -> None:
    instance_id = _iid("dup")
    first = client.start("waiter", None, instance_id)
    assert first.status_code == 202
    client.wait_for(first.json()["statusQueryGetUri"], lambda s: s["runtimeStatus"] == "Running")
    second = client.start("waiter", None, instance_id)
    assert second.status_code == 409
    assert "already exists" in second.json()["error"]
    client.manage(instance_id, "terminate", "POST")
    client.wait(first.json()["statusQueryGetUri"])
    assert client.run("fan_out", {"n": 2}, instance_id=instance_id)["output"] == 1


def test_status_queries_and_purge(client: Client) -> None:
    instance_id = _iid("purge")
    client.run("fan_out", {"n": 3}, instance_id=instance_id)
    listed = client.manage("-", "list", params={"status": "Completed"}).json()
    assert instance_id in {s["instanceId"] for s in listed}
    assert all(s["runtimeStatus"] == "Completed" for s in listed)
    assert instance_id in {s["instanceId"] for s in client.manage("-", "all").json()}
    assert client.manage(instance_id, "purge", "DELETE").json() == {"deleted": 1}
    assert client.manage(instance_id, "status").json() is None
    assert client.manage(instance_id, "purge", "DELETE").json() == {"deleted": 0}


def test_purge_removes_a_running_instance_like_azure(client: Client) -> None:
    # Azure purges in any state and answers 200: an operator purge can destroy in-flight work.
    instance_id = _iid("purge-running")
    url = client.start("waiter", None, instance_id).json()["statusQueryGetUri"]
    client.wait_for(url, lambda s: s["runtimeStatus"] == "Running")
    purged = requests.delete(url, timeout=5)
    assert purged.status_code == 200
    assert purged.json() == {"instancesDeleted": 1}
    assert requests.get(url, timeout=5).status_code == 404
    assert requests.delete(url, timeout=5).status_code == 404


def test_instance_id_rules_are_enforced(client: Client, core_host) -> None:
    start = core_host.rpc_url + "/durabletask/orchestrators/fan_out/"
    for bad in ("@entity", "a#b", "a?b", "a\\b", "tab\there", "x" * 257):
        response = requests.post(start + quote(bad, safe=""), json={"n": 1}, timeout=5)
        assert response.status_code == 400, bad
        assert response.json()["ExceptionType"] == "ArgumentException"
        assert "nstance id" in response.json()["ExceptionMessage"].replace("ID", "id"), bad
    assert requests.post(start + "y" * 256, json={"n": 1}, timeout=5).status_code == 202


def test_custom_status_over_16_kb_fails_the_orchestration(client: Client) -> None:
    # The extension truncates the UTF-16 size to whole KB before comparing: 8,700 characters are
    # 16.99 KB (allowed), 8,800 are 17.2 KB (refused).
    ok = client.run("big_status", {"chars": 8700})
    assert ok["runtimeStatus"] == "Completed"
    failed = client.run("big_status", {"chars": 8800})
    assert failed["runtimeStatus"] == "Failed"
    assert "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB" in failed["output"]
    assert failed["customStatus"] is None


def test_last_retry_timer_fires_at_once(client: Client) -> None:
    # Two attempts 3 s apart at most: the retry interval is waited once, not after the last failure.
    started = time.monotonic()
    status = client.run("slow_retry", {"key": _iid("slow-retry")})
    elapsed = time.monotonic() - started
    assert status["output"].startswith("exhausted after 2 attempts")
    assert 1.5 <= elapsed < 2.9, elapsed


def test_raw_api_status_codes(client: Client, core_host) -> None:
    rpc = core_host.rpc_url + "/durabletask/"
    assert requests.get(rpc + "instances/missing", timeout=5).status_code == 404
    assert requests.post(rpc + "instances/missing/raiseEvent/x", json=1, timeout=5).status_code == 404
    assert requests.post(rpc + "orchestrators/not_a_function", timeout=5).status_code == 400
    done = client.run("fan_out", {"n": 1}, instance_id=_iid("raw"))
    iid = done["instanceId"]
    assert requests.post(rpc + f"instances/{iid}/raiseEvent/x", json=1, timeout=5).status_code == 410
    assert requests.post(rpc + f"instances/{iid}/terminate", timeout=5).status_code == 410
    running = client.start("waiter", None, _iid("raw")).json()["id"]
    plain = requests.post(rpc + f"instances/{running}/raiseEvent/x", data="1", timeout=5)
    assert plain.status_code == 400
    assert requests.get(rpc + f"instances/{running}?showHistory=TRUE", timeout=5).status_code == 202
    assert requests.delete(rpc + "instances/", timeout=5).status_code == 400
    requests.post(rpc + f"instances/{running}/terminate?reason=cleanup", timeout=5)


def test_status_by_created_time_and_prefix(client: Client, core_host) -> None:
    prefix = _iid("window")
    client.run("fan_out", {"n": 1}, instance_id=prefix + "-a")
    rpc = core_host.rpc_url + "/durabletask/"
    listed = requests.get(
        rpc + "instances/",
        params={"instanceIdPrefix": prefix, "createdTimeFrom": "2000-01-01T00:00:00Z"},
        timeout=5,
    ).json()
    assert [s["instanceId"] for s in listed] == [prefix + "-a"]
    future = requests.get(
        rpc + "instances/",
        params={"instanceIdPrefix": prefix, "createdTimeFrom": "2999-01-01T00:00:00Z"},
        timeout=5,
    ).json()
    assert future == []


def test_an_instance_list_comes_in_pages_like_azure(client: Client) -> None:
    # Azure's HTTP API answers one page (100 by default, `top` to choose) and an
    # x-ms-continuation-token header for the next; the Python SDK's get_status_by reads only the first.
    prefix = _iid("paged")
    for n in range(3):
        client.run("fan_out", {"n": 1}, f"{prefix}-{n}")
    listing = client.base + "/runtime/webhooks/durabletask/instances"
    query = {"instanceIdPrefix": prefix, "top": "2", "code": SYSTEM_KEY}
    first = requests.get(listing, params=query, timeout=5)
    token = first.headers.get("x-ms-continuation-token")
    assert len(first.json()) == 2
    assert token
    second = requests.get(listing, params=query, headers={"x-ms-continuation-token": token}, timeout=5)
    assert len(second.json()) == 1
    assert "x-ms-continuation-token" not in second.headers
    ids = {s["instanceId"] for s in first.json() + second.json()}
    assert ids == {f"{prefix}-{n}" for n in range(3)}
