"""The three orchestrators as generators: what they call, in which order, and the document they return.

Driven by a fake context (``durable_fakes``), as the Durable Functions Python samples test theirs:
each yielded task is answered by the test, no host involved. Durable replay itself is the e2e tier's.
"""

from __future__ import annotations

import json
from typing import Any, cast

from dsr import wire
from dsr.attempts import retry_input
from dsr.contract import parse_request
from dsr.status import finish, initial_document, new_category_entry
from dsr.units import ITERATIONS_UNIT
from orchestrators.dsr_request import dsr_category, dsr_paged_unit, dsr_request
from tests.functional.durable_fakes import NOW, Call, FakeContext, drive, user_function

REQUEST = user_function(dsr_request)
CATEGORY = user_function(dsr_category)
PAGED_UNIT = user_function(dsr_paged_unit)
ENDPOINT = "https://a.cognitiveservices.azure.com"


def request_input(operation: str, categories: list[str], *, approval: bool = False) -> dict[str, Any]:
    request = parse_request(
        {
            "requestId": "r1",
            "operation": operation,
            "account": {"endpoint": ENDPOINT, "trainingKeySecret": "cv-key"},
            "categories": categories,
        }
    )
    return {
        "request": request,
        "receivedAt": "2026-01-01T00:00:00Z",
        "approval": {"required": approval, "timeoutHours": 24.0},
        "run": {"attempt": 1, "token": "t-1"},
    }


RESOLVED: wire.Resolved = {
    "kind": "resolved",
    "account": {"endpoint": ENDPOINT, "trainingKeySecret": "cv-key", "secretVersion": "v1"},
    "projects": [{"id": "p1", "name": "Kiosk"}],
    "missingProjectIds": ["p-gone"],
}


def succeeded_entry(call: Call) -> wire.CategoryEntry:
    entry = new_category_entry("succeeded")
    entry["counts"] = {call.input["category"]: 1}
    return entry


def host(*, resolution: Any = RESOLVED, category: Any = succeeded_entry, event: Any = None):
    """A ``respond`` playing the activities and sub-orchestrations of a healthy run."""

    def respond(call: Call) -> Any:
        if call.name == wire.CLAIM_RUN:
            return {"owner": True, "document": None}
        if call.name == wire.RESOLVE_ACCOUNT:
            if isinstance(resolution, Exception):
                raise resolution
            return resolution
        if call.name == wire.WRITE_STATUS:
            return call.input  # the activity returns the document as written
        if call.name == wire.DSR_CATEGORY:
            return category(call)
        if call.kind == "event":
            return event
        if call.kind == "timer":
            return None
        raise AssertionError(f"unexpected call {call.kind} {call.name}")

    return respond


def test_the_run_is_claimed_before_any_work():
    context = FakeContext(request_input("export", ["projects"]))
    drive(REQUEST, context, host())
    assert context.calls[0].name == wire.CLAIM_RUN
    assert context.calls[0].input == {"requestId": "r1", "run": {"attempt": 1, "token": "t-1"}}


def test_a_duplicate_start_of_a_finished_attempt_runs_nothing_and_answers_the_recorded_document():
    payload = request_input("delete", ["tags"])
    recorded = finish(initial_document(payload["request"], NOW), NOW, "succeeded")
    context = FakeContext(payload)
    healthy = host()

    def respond(call: Call) -> Any:
        if call.name == wire.CLAIM_RUN:
            return {"owner": False, "document": recorded}
        return healthy(call)

    assert drive(REQUEST, context, respond) == recorded
    assert [c.name for c in context.calls] == [wire.CLAIM_RUN]


def test_a_failed_resolution_fails_the_request_and_skips_every_category():
    context = FakeContext(request_input("export", ["projects", "tags"]))
    failed = {"kind": "failed", "error": "SecretNotFoundError: no secret 'cv-key'"}
    document = drive(REQUEST, context, host(resolution=failed))
    assert document["state"] == "failed"
    assert document["error"] == failed["error"]
    assert {name: e["state"] for name, e in document["categories"].items()} == {
        "projects": "skipped",
        "tags": "skipped",
    }
    assert not context.named("orchestrator", wire.DSR_CATEGORY)
    assert document["completedAt"] == "2026-01-01T12:00:00Z"


def test_a_crashed_resolution_reports_only_the_first_line_of_its_error():
    context = FakeContext(request_input("export", ["projects"]))
    crash = RuntimeError("Activity function 'resolve_account' failed:  TransientError: busy \n Traceback ...")
    document = drive(REQUEST, context, host(resolution=crash))
    assert document["state"] == "failed"
    assert document["error"] == "Activity function 'resolve_account' failed: TransientError: busy"


def test_an_export_runs_every_category_at_once_and_records_the_projects():
    context = FakeContext(request_input("export", ["projects", "tags", "images"]))
    document = drive(REQUEST, context, host())
    started = [c.input["category"] for c in context.named("orchestrator", wire.DSR_CATEGORY)]
    assert sorted(started) == ["images", "projects", "tags"]
    assert all(c.instance_id == f"dsr-r1:{c.input['category']}" for c in context.calls if c.instance_id)
    assert document["state"] == "succeeded"
    assert document["projects"] == [{"id": "p1", "name": "Kiosk"}]
    assert document["projectsNotFound"] == ["p-gone"]
    job = context.named("orchestrator", wire.DSR_CATEGORY)[0].input["job"]
    assert job["projectIds"] == ["p1"]
    assert job["account"]["secretVersion"] == "v1"
    # Progress is reported as categories start and finish; the last one is the finished document's.
    assert context.statuses[-1]["state"] == "succeeded"
    assert any(s["categories"]["images"]["state"] == "running" for s in context.statuses)


def test_a_delete_runs_its_phases_in_dependency_order():
    categories = ["projects", "iterationList", "iterationDetails", "tags", "images", "predictions"]
    context = FakeContext(request_input("delete", categories))
    order: list[list[str]] = []

    def category(call: Call) -> wire.CategoryEntry:
        # Everything started since the last finished unit belongs to the phase now running.
        started = [c.input["category"] for c in context.named("orchestrator", wire.DSR_CATEGORY)]
        seen = [name for phase in order for name in phase]
        if started[len(seen) :]:
            order.append(started[len(seen) :])
        return succeeded_entry(call)

    document = drive(REQUEST, context, host(category=category))
    assert [sorted(phase) for phase in order] == [
        ["images", "predictions"],
        ["tags"],
        [ITERATIONS_UNIT],
        ["projects"],
    ]
    assert document["state"] == "succeeded"
    # The shared iterations unit's outcome is recorded for each iteration category it served.
    assert document["categories"]["iterationList"]["state"] == "succeeded"
    assert "DeleteIteration" in document["categories"]["iterationDetails"]["note"]


def test_one_failing_category_does_not_stop_the_others():
    context = FakeContext(request_input("export", ["projects", "tags", "images"]))

    def category(call: Call) -> wire.CategoryEntry:
        if call.input["category"] == "tags":
            raise RuntimeError("Orchestrator function 'dsr_category' failed: ValueError: bad tag \n details")
        return succeeded_entry(call)

    document = drive(REQUEST, context, host(category=category))
    assert document["state"] == "partially_succeeded"
    assert document["categories"]["tags"]["state"] == "failed"
    assert document["categories"]["tags"]["error"] == (
        "Orchestrator function 'dsr_category' failed: ValueError: bad tag"
    )
    assert document["categories"]["projects"]["state"] == "succeeded"
    assert document["categories"]["images"]["state"] == "succeeded"


def approval_event(decision: str) -> dict[str, Any]:
    return {"by": "ann", "decision": decision, "comment": "ok", "principal": "ann@contoso"}


def test_an_approved_delete_waits_then_runs():
    context = FakeContext(request_input("delete", ["tags"], approval=True))
    document = drive(REQUEST, context, host(event=approval_event("approve")))
    assert context.statuses[0]["state"] == "running"
    assert any(s["state"] == "awaiting_approval" for s in context.statuses)
    (timer,) = [c for c in context.calls if c.kind == "timer"]
    assert timer.input == NOW.replace(day=2)  # 24 hours to decide
    assert timer.canceled  # an approved delete does not keep the timer pending
    assert document["state"] == "succeeded"
    assert document["approval"] == {
        "required": True,
        "deadline": "2026-01-02T12:00:00Z",
        "decision": "approve",
        "by": "ann",
        "principal": "ann@contoso",
        "at": "2026-01-01T12:00:00Z",
        "comment": "ok",
    }
    assert [c.input["category"] for c in context.named("orchestrator", wire.DSR_CATEGORY)] == ["tags"]


def test_an_event_sent_json_encoded_is_read_too():
    context = FakeContext(request_input("delete", ["tags"], approval=True))
    document = drive(REQUEST, context, host(event=json.dumps(approval_event("reject"))))
    assert document["approval"]["decision"] == "reject"


def test_a_rejected_delete_is_canceled_and_deletes_nothing():
    context = FakeContext(request_input("delete", ["tags", "images"], approval=True))
    document = drive(REQUEST, context, host(event=approval_event("reject")))
    _assert_canceled_before_any_category(
        context, document, "reject", "the delete was rejected by the approver; nothing was deleted"
    )


def test_an_approval_nobody_gives_in_time_expires():
    context = FakeContext(request_input("delete", ["tags"], approval=True))
    timer_first = lambda tasks: next(t for t in tasks if t.kind == "timer")  # noqa: E731
    document = drive(REQUEST, context, host(), choose=timer_first)
    _assert_canceled_before_any_category(
        context, document, "expired", "approval deadline passed; nothing was deleted"
    )


def _assert_canceled_before_any_category(context, document, decision: str, error: str) -> None:
    assert document["state"] == "canceled"
    assert document["approval"]["decision"] == decision
    assert document["error"] == error
    assert {e["state"] for e in document["categories"].values()} == {"skipped"}
    assert not context.named("orchestrator", wire.DSR_CATEGORY)


def test_a_dry_run_delete_asks_no_approval():
    payload = request_input("delete", ["tags"], approval=True)
    payload["request"]["dryRun"] = True
    context = FakeContext(payload)
    document = drive(REQUEST, context, host())
    assert not [c for c in context.calls if c.kind in ("event", "timer")]
    assert document["approval"] is None
    assert document["state"] == "succeeded"


def test_a_retry_runs_only_its_categories_and_carries_the_others():
    payload = request_input("delete", ["projects", "tags"], approval=True)
    earlier = finish(initial_document(payload["request"], NOW), NOW)
    carried = new_category_entry("succeeded")
    carried["counts"] = {"projectsDeleted": 1}
    decided = {"required": True, "deadline": "2026-01-02T00:00:00Z", "decision": "approve", "by": "ann"}
    attempts = [
        {
            "attempt": 1,
            "state": "partially_succeeded",
            "startedAt": earlier["receivedAt"],
            "completedAt": earlier["completedAt"],
            "categories": {"projects": "succeeded", "tags": "failed"},
        }
    ]
    payload["approval"] = {"required": False}
    payload["retry"] = {
        "attempt": 2,
        "startedAt": "2026-01-01T12:00:00Z",
        "categories": ["tags"],
        "attempts": attempts,
        "carried": {"projects": carried},
        "approval": decided,
    }
    context = FakeContext(payload)
    document = drive(REQUEST, context, host())
    assert [c.input["category"] for c in context.named("orchestrator", wire.DSR_CATEGORY)] == ["tags"]
    assert document["categories"]["projects"] == carried
    assert document["categories"]["tags"]["state"] == "succeeded"
    assert document["attempts"] == attempts
    assert document["approval"] == decided
    assert not [c for c in context.calls if c.kind == "event"]  # the first decision covers the retry
    assert context.statuses[0]["categories"]["projects"]["state"] == "succeeded"  # carried from the start


def test_units_know_which_attempt_runs_them():
    # A retry verifies again what an earlier attempt could not; the unit tells them apart by this.
    first = FakeContext(request_input("delete", ["tags"]))
    drive(REQUEST, first, host())
    payload = request_input("delete", ["tags"])
    payload["retry"] = _second_attempt(["tags"], [{"id": "p1", "name": "Kiosk"}])
    second = FakeContext(payload)
    drive(REQUEST, second, host())
    attempts = [
        c.input["job"]["attempt"] for c in (*first.calls, *second.calls) if c.name == wire.DSR_CATEGORY
    ]
    assert attempts == [1, 2]


def test_a_callback_is_sent_after_the_document_is_written_and_its_outcome_recorded():
    payload = request_input("export", ["projects"])
    payload["request"]["callbackFile"] = "r1/request/callback.json"
    context = FakeContext(payload)
    healthy = host()

    def respond(call: Call) -> Any:
        if call.name == wire.NOTIFY_CALLBACK:
            assert call.input["document"]["state"] == "succeeded"
            return {"delivered": True, "status": 204}
        return healthy(call)

    document = drive(REQUEST, context, respond)
    assert [c.name for c in context.calls if c.kind == "activity"][-3:] == [
        wire.WRITE_STATUS,
        wire.NOTIFY_CALLBACK,
        wire.WRITE_STATUS,
    ]
    assert document["callback"] == {"delivered": True, "status": 204}


def job(operation: str = "export") -> dict[str, Any]:
    return {
        "requestId": "r1",
        "operation": operation,
        "account": RESOLVED["account"],
        "projectIds": ["p1", "p2"],
        "categories": ["images", "tags"],
        "subject": None,
        "dryRun": False,
        "attempt": 1,
    }


def unit_result(category: str, project: str | None, **fields: Any) -> dict[str, Any]:
    result = {
        "category": category,
        "projectId": project,
        "state": "succeeded",
        "counts": {"images": 1},
        "files": [{"path": f"r1/export/{category}/{project}.json", "bytes": 1, "sha256": "0" * 64}],
        "verified": None,
        "note": None,
        "next": None,
    }
    return {**result, **fields}


def test_a_category_pages_its_large_units_and_merges_what_they_return():
    context = FakeContext({"job": job(), "category": "images"}, instance_id="dsr-r1:images")
    entry = drive(CATEGORY, context, lambda call: unit_result("images", call.input["unit"]["projectId"]))
    paged = context.named("orchestrator", wire.DSR_PAGED_UNIT)
    assert [c.instance_id for c in paged] == ["dsr-r1:images:p1", "dsr-r1:images:p2"]
    assert not context.named("activity", wire.RUN_UNIT)
    assert entry["state"] == "succeeded"
    assert entry["counts"] == {"images": 2}
    assert len(entry["files"]) == 2


def test_a_unit_of_one_project_among_several_records_its_progress_and_an_account_wide_one_does_not():
    for category, so_far in (("predictions", [{}, {}]), ("tags", [None])):
        context = FakeContext({"job": job(), "category": category}, instance_id=f"dsr-r1:{category}")
        drive(
            CATEGORY,
            context,
            lambda call: unit_result(call.input["unit"]["category"], call.input["unit"]["projectId"]),
        )
        assert [c.input.get("soFar") for c in context.named("activity", wire.RUN_UNIT)] == so_far


def test_a_delete_category_keeps_its_files_as_receipts_and_names_failed_units():
    context = FakeContext({"job": job("delete"), "category": "tags"}, instance_id="dsr-r1:tags")

    def respond(call: Call) -> Any:
        project = call.input["unit"]["projectId"]
        if project == "p2":
            return unit_result("tags", project, state="failed", note="ProjectNotFoundError: p2")
        return unit_result("tags", project, verified=True)

    entry = drive(CATEGORY, context, respond)
    assert entry["state"] == "failed"
    assert entry["error"] == "ProjectNotFoundError: p2"
    assert entry["files"] == []
    assert entry["receipt"] is not None
    assert [f["path"] for f in entry["receipt"]["files"]] == [
        "r1/export/tags/p1.json",
        "r1/export/tags/p2.json",
    ]


def test_a_category_whose_units_crash_fails_alone():
    context = FakeContext({"job": job(), "category": "tags"})

    def respond(call: Call) -> Any:
        raise RuntimeError("Activity function 'run_unit' failed:  TransientError: 503 \n trace")

    entry = drive(CATEGORY, context, respond)
    assert context.named("activity", wire.RUN_UNIT)  # small categories are one activity call
    assert entry["state"] == "failed"
    assert entry["error"] == "Activity function 'run_unit' failed: TransientError: 503"


def test_a_paged_unit_continues_as_new_with_its_cursor_then_combines_the_pages():
    unit = {"category": "images", "projectId": "p1", "cursor": None}
    first = FakeContext({"job": job(), "unit": unit})
    page_1 = unit_result("images", "p1", next="cursor-1")
    assert drive(PAGED_UNIT, first, lambda call: page_1) is None
    following = first.continued_with
    assert following["unit"] == {**unit, "cursor": "cursor-1"}
    assert following["combined"] == page_1

    second = FakeContext(following)
    page_2 = unit_result("images", "p1", counts={"images": 4}, note="last page")
    page_2["files"] = [{"path": "r1/export/images/p1-2.json", "bytes": 1, "sha256": "1" * 64}]
    combined = drive(PAGED_UNIT, second, lambda call: page_2)
    (run,) = second.named("activity", wire.RUN_UNIT)
    assert run.input["unit"]["cursor"] == "cursor-1"
    assert second.continued_with is None
    assert combined["counts"] == {"images": 5}
    assert [f["path"] for f in combined["files"]] == [
        "r1/export/images/p1.json",
        "r1/export/images/p1-2.json",
    ]
    assert combined["note"] == "last page"
    assert combined["next"] is None


def test_a_paged_unit_hands_each_call_the_counts_of_the_calls_before_it():
    # The activity records them as the unit's progress, which a status poll shows while it runs.
    unit = {"category": "images", "projectId": "p1", "cursor": None}
    first = FakeContext({"job": job(), "unit": unit})
    drive(PAGED_UNIT, first, lambda call: unit_result("images", "p1", counts={"images": 3}, next="c1"))
    (call,) = first.named("activity", wire.RUN_UNIT)
    assert call.input["soFar"] == {}
    second = FakeContext(first.continued_with)
    drive(PAGED_UNIT, second, lambda call: unit_result("images", "p1", counts={"images": 2}))
    (call,) = second.named("activity", wire.RUN_UNIT)
    assert call.input["soFar"] == {"images": 3}


def test_a_failed_page_ends_the_unit_failed():
    unit = {"category": "images", "projectId": "p1", "cursor": "cursor-1"}
    combined_so_far = unit_result("images", "p1", next="cursor-1")
    context = FakeContext({"job": job(), "unit": unit, "combined": combined_so_far})
    failed = unit_result("images", "p1", state="failed", note="ProjectNotFoundError: p1", next="cursor-2")
    result = drive(PAGED_UNIT, context, lambda call: failed)
    assert context.continued_with is None
    assert result["state"] == "failed"
    assert result["note"] == "ProjectNotFoundError: p1"
    assert result["next"] is None


def test_a_unit_that_exhausts_its_retries_fails_its_category_but_keeps_the_other_units_receipts():
    # Before: task_all failed the whole category at the first crashed unit, and p1's receipt, written
    # for deletions that really happened, was left out of the status document and the certificate.
    context = FakeContext({"job": job("delete"), "category": "tags"}, instance_id="dsr-r1:tags")

    def respond(call: Call) -> Any:
        project = call.input["unit"]["projectId"]
        if project == "p2":
            raise RuntimeError("Sub orchestrator 'dsr_paged_unit' failed:  TransientError: 503 \n trace")
        return unit_result("tags", project, verified=True)

    entry = drive(CATEGORY, context, respond)
    assert entry["state"] == "failed"
    assert entry["error"] == "Sub orchestrator 'dsr_paged_unit' failed: TransientError: 503"
    assert entry["receipt"] is not None
    assert [f["path"] for f in entry["receipt"]["files"]] == ["r1/export/tags/p1.json"]
    assert entry["verified"] is True  # of what succeeded; the state says the category is not done


def test_a_paged_unit_whose_activity_fails_hands_back_what_its_earlier_pages_did():
    unit = {"category": "images", "projectId": "p1", "cursor": "cursor-1"}
    combined = unit_result("images", "p1", next="cursor-1")
    context = FakeContext({"job": job(), "unit": unit, "combined": combined})

    def respond(call: Call) -> Any:
        raise RuntimeError("Activity function 'run_unit' failed:  TransientError: 503 \n trace")

    result = drive(PAGED_UNIT, context, respond)
    assert context.continued_with is None
    assert result["state"] == "failed"
    assert result["next"] is None
    assert result["note"] == "Activity function 'run_unit' failed: TransientError: 503"
    assert [f["path"] for f in result["files"]] == ["r1/export/images/p1.json"]
    assert result["counts"] == {"images": 1}


def _second_attempt(
    categories: list[str], projects: list[dict[str, str]], *, carried: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The retry block of attempt 2, which runs ``categories`` for the earlier attempt's ``projects``."""
    return {
        "attempt": 2,
        "startedAt": "2026-01-01T12:00:00Z",
        "categories": categories,
        "attempts": [],
        "carried": carried or {},
        "approval": None,
        "projects": projects,
    }


def test_a_retry_runs_units_for_the_earlier_attempt_s_projects_even_when_they_are_gone_now():
    # Attempt 1 deleted images of p1 and p2, then its projects unit deleted both projects; images
    # failed for p2. The retry resolves no projects any more: planned from that alone, images ran no
    # unit, ended "succeeded" with no receipts, and p1's receipt and p2's journalled batches were lost.
    # Run again for p1 and p2, each unit finds its project gone and returns its journal's receipt.
    payload = request_input("delete", ["images", "projects"])
    earlier = [{"id": "p1", "name": "Kiosk"}, {"id": "p2", "name": "Lobby"}]
    payload["retry"] = _second_attempt(
        ["images"], earlier, carried={"projects": new_category_entry("succeeded")}
    )
    nothing_left: wire.Resolved = {**RESOLVED, "projects": [], "missingProjectIds": []}
    context = FakeContext(payload)
    document = drive(REQUEST, context, host(resolution=nothing_left))
    (images,) = context.named("orchestrator", wire.DSR_CATEGORY)
    assert images.input["job"]["projectIds"] == ["p1", "p2"]
    assert document["projects"] == earlier
    assert document["projectsNotFound"] == []


def test_a_retry_keeps_the_projects_resolved_now_first_and_reports_only_new_misses():
    payload = request_input("delete", ["images"])
    payload["retry"] = _second_attempt(
        ["images"], [{"id": "p0", "name": "Old"}, {"id": "p1", "name": "Kiosk"}]
    )
    resolved: wire.Resolved = {**RESOLVED, "missingProjectIds": ["p0", "p-gone"]}
    context = FakeContext(payload)
    document = drive(REQUEST, context, host(resolution=resolved))
    (images,) = context.named("orchestrator", wire.DSR_CATEGORY)
    assert images.input["job"]["projectIds"] == ["p1", "p0"]
    assert document["projectsNotFound"] == ["p-gone"]  # p0 was in scope before: deleted, not unknown


def test_a_retry_input_carries_the_projects_the_earlier_attempt_had_in_scope():
    payload = request_input("delete", ["images"])
    earlier = finish(initial_document(payload["request"], NOW), NOW, "failed")
    earlier["categories"]["images"]["state"] = "failed"
    earlier["projects"] = [{"id": "p1", "name": "Kiosk"}]
    retried = retry_input(cast(wire.RequestInput, payload), earlier, "2026-01-02T00:00:00Z")
    assert retried["retry"]["projects"] == earlier["projects"]


def test_an_export_retry_runs_for_the_projects_found_now_only():
    # Its account-wide units (tags, projects, ...) read the projects resolved now; one gone since
    # would fail them with its 404.
    payload = request_input("export", ["tags"])
    payload["retry"] = _second_attempt(["tags"], [{"id": "p0", "name": "Old"}, {"id": "p1", "name": "Kiosk"}])
    context = FakeContext(payload)
    document = drive(REQUEST, context, host())
    (tags,) = context.named("orchestrator", wire.DSR_CATEGORY)
    assert tags.input["job"]["projectIds"] == ["p1"]
    assert document["projects"] == RESOLVED["projects"]


def test_a_delete_unit_out_of_retries_gets_the_receipt_of_what_its_journal_shows_it_deleted():
    # Before: a delete unit that kept meeting 503s after deleting some batches ended failed with no
    # receipt at all; a refused one (4xx) had one.
    unit = {"category": "images", "projectId": "p1", "cursor": None}
    context = FakeContext({"job": job("delete"), "unit": unit})
    written = unit_result("images", "p1", state="failed", note="written from the journal")
    written["files"] = [
        {"path": "r1/receipts/images/p1.failed-attempt-01.json", "bytes": 1, "sha256": "1" * 64}
    ]

    def respond(call: Call) -> Any:
        if call.name == wire.RUN_UNIT:
            raise RuntimeError("Activity function 'run_unit' failed:  TransientError: 503 \n trace")
        return written

    result = drive(PAGED_UNIT, context, respond)
    (failure,) = context.named("activity", wire.WRITE_FAILED_RECEIPT)
    assert failure.input["unit"] == unit
    assert failure.input["error"] == "Activity function 'run_unit' failed: TransientError: 503"
    assert result["state"] == "failed"
    assert result["files"] == written["files"]
    assert result["next"] is None


def test_an_export_unit_out_of_retries_writes_no_receipt():
    unit = {"category": "images", "projectId": "p1", "cursor": None}
    context = FakeContext({"job": job(), "unit": unit})

    def respond(call: Call) -> Any:
        raise RuntimeError("Activity function 'run_unit' failed:  TransientError: 503 \n trace")

    assert drive(PAGED_UNIT, context, respond)["state"] == "failed"
    assert not context.named("activity", wire.WRITE_FAILED_RECEIPT)
