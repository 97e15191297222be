"""The reliability scenarios, each a function that raises AssertionError on the first difference.

The CI tests call them with fixed parameters; the soak calls them many times with drawn ones.
Reference outputs come from a clean run (no kill, no fault) of the same request on the same data.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulator.faults import FaultPlan
from tests.e2e.stack import HostProcess
from tests.reliability.harness import (
    BULK_SUBJECT,
    SUBJECTS,
    Reliability,
    check_equal,
    export_files,
    faults,
    finish,
    kill_at,
    orchestration_input,
    outcome,
    race,
    receipt_documents,
    receipts,
    run,
    scope_kept,
    subject,
)

EXPORT_KILL_POINTS = (
    ("DownloadImage", 10),  # inside an image page: some originals copied, the rest not
    ("QueryPredictions", 1),  # second project's predictions
    ("GetImagePerformances", 0),
    ("GetTags", 0),
    ("DownloadPrediction", 3),
)
DELETE_KILL_POINTS = (
    ("DeleteImages", 1, "drop"),  # one batch of 256 deleted, the second never sent
    ("DeleteImages", 2, "apply"),  # the third batch was carried out, but the host never heard
    ("DeleteImages", 0, "apply"),
    ("GetImages", -1, "drop"),  # every batch sent; killed during the last verification re-list
    ("GetImages", 1, "drop"),  # while listing the targets
    ("GetIterations", 0, "drop"),  # before anything was listed
)
"""(operation, calls let through, what becomes of the call in flight). A negative count is from the
end: -1 holds the last call of that operation a clean run makes."""
API_FAULT_KINDS = ("http500", "http503", "http429", "reset")
"""The kinds CI injects; ``slow`` (a 35 s stall past the client's 30 s timeout) only in the soak."""


@dataclass
class Reference:
    """A clean run's outputs."""

    request_id: str
    outcome: dict[str, Any]
    files: dict[str, Any]
    receipts: dict[str, Any]
    calls: dict[str, int]
    """Calls per operation the emulator received during the clean run."""


def _in_bulk(metadata: dict[str, str]) -> bool:
    return metadata.get("subjectId") == BULK_SUBJECT


def delete_body(rel: Reliability, tag: str) -> dict[str, Any]:
    """A subject-scoped delete of the bulk subject (600 images, three batches) and nothing else."""
    return rel.body("delete", tag, operation="delete", subject={"metadata": {"subjectId": BULK_SUBJECT}})


def _calls(rel: Reliability, name: str) -> dict[str, int]:
    with rel.state.lock:
        return dict(rel.account(name).controls.counters)


def _since(rel: Reliability, name: str, start: dict[str, int]) -> dict[str, int]:
    now = _calls(rel, name)
    return {op: now[op] - start.get(op, 0) for op in now if now[op] != start.get(op, 0)}


def clean_export(rel: Reliability, host: HostProcess) -> Reference:
    start = _calls(rel, "export")
    document = run(rel, host, rel.body("export", "clean", operation="export"))
    if document["state"] != "succeeded":
        raise AssertionError(f"clean export did not succeed: {outcome(document)}")
    files = export_files(rel, document)
    return Reference(document["requestId"], outcome(document), files, {}, _since(rel, "export", start))


def clean_delete(rel: Reliability, host: HostProcess) -> Reference:
    before = rel.images("delete")
    start = _calls(rel, "delete")
    document = run(rel, host, delete_body(rel, "clean"))
    try:
        if document["state"] != "succeeded" or document["categories"]["images"]["verified"] is not True:
            raise AssertionError(f"clean delete did not succeed: {outcome(document)}")
        if any(_in_bulk(m) for m in rel.images("delete").values()):
            raise AssertionError("clean delete left images of the subject")
        scope_kept(rel, before, "delete", _in_bulk)
        found = receipts(rel, document)
        return Reference(document["requestId"], outcome(document), {}, found, _since(rel, "delete", start))
    finally:
        rel.restore("delete")


def _check_export(rel: Reliability, document: dict[str, Any], clean: Reference, what: str) -> None:
    check_equal(rel, f"{what}: status", outcome(document), clean.outcome)
    check_equal(rel, f"{what}: files", export_files(rel, document), clean.files)


def _check_delete(
    rel: Reliability, document: dict[str, Any], clean: Reference, before: dict[str, Any], what: str
) -> None:
    check_equal(rel, f"{what}: status", outcome(document), clean.outcome)
    check_equal(rel, f"{what}: receipts", receipts(rel, document), clean.receipts)
    left = [i for i, m in rel.images("delete").items() if _in_bulk(m)]
    if left:
        rel.tally.mismatches.append(f"{what}: {len(left)} image(s) of the subject left")
        raise AssertionError(f"{what}: {len(left)} image(s) of the subject left")
    scope_kept(rel, before, "delete", _in_bulk)


def kill_export(rel: Reliability, host: HostProcess, clean: Reference, operation: str, after: int) -> None:
    if after < 0:
        after += clean.calls.get(operation, 0)
    body = rel.body("export", "kill", operation="export")
    document = kill_at(rel, host, "export", body, operation, after)
    _check_export(rel, document, clean, f"export killed at {operation} #{after + 1}")


def kill_delete(
    rel: Reliability, host: HostProcess, clean: Reference, operation: str, after: int, then: str
) -> None:
    before = rel.images("delete")
    if after < 0:
        after += clean.calls.get(operation, 0)
    try:
        document = kill_at(rel, host, "delete", delete_body(rel, "kill"), operation, after, then)
        _check_delete(rel, document, clean, before, f"delete killed at {operation} #{after + 1} ({then})")
    finally:
        rel.restore("delete")


def plan(
    rate: float, seed: int, kinds: Iterable[str] = API_FAULT_KINDS, slow_seconds: float = 35.0
) -> FaultPlan:
    return FaultPlan.uniform(rate, tuple(kinds), seed=seed, retry_after_seconds=1, slow_seconds=slow_seconds)


def faulty_export(rel: Reliability, host: HostProcess, clean: Reference, fault_plan: FaultPlan) -> int:
    """Export under ``fault_plan``; returns how many faults were injected."""
    with faults(rel, "export", fault_plan) as injected:
        document = run(rel, host, rel.body("export", "fault", operation="export"))
    _check_export(rel, document, clean, f"export under faults (seed {fault_plan.seed})")
    return sum(injected.values())


def faulty_delete(rel: Reliability, host: HostProcess, clean: Reference, fault_plan: FaultPlan) -> int:
    before = rel.images("delete")
    try:
        with faults(rel, "delete", fault_plan) as injected:
            document = run(rel, host, delete_body(rel, "fault"))
        _check_delete(rel, document, clean, before, f"delete under faults (seed {fault_plan.seed})")
    finally:
        rel.restore("delete")
    return sum(injected.values())


def same_id_race(
    rel: Reliability, host: HostProcess, operation: str, contenders: int, rng: random.Random
) -> None:
    """``contenders`` different bodies (and two exact repeats) POSTed at once under one requestId:
    exactly one is created, repeats of it get ``created: false``, all others 409; the run then uses
    the winner's subject, in what it exports or targets and in the subject payload it reads."""
    template = rel.body("race", "race", operation="delete" if operation == "dry-run" else "export")
    if operation == "dry-run":
        template["dryRun"] = True
    subjects = rng.sample(range(SUBJECTS), contenders)
    bodies = [{**template, "subject": {"metadata": {"subjectId": subject(i)}}} for i in subjects]
    bodies += [dict(bodies[i]) for i in rng.sample(range(contenders), 2)]
    rng.shuffle(bodies)
    results = race(rel, host, bodies)
    created = [
        body for body, response in results if response.status_code == 202 and response.json()["created"]
    ]
    if len(created) != 1:
        rel.tally.mismatches.append(f"race: {len(created)} submissions created")
        raise AssertionError(
            f"{len(created)} submissions were created: {[r.status_code for _, r in results]}"
        )
    winner = created[0]
    for body, response in results:
        if body is winner:
            continue
        expected = (202, False) if body == winner else (409, None)
        got = (response.status_code, response.json().get("created") if response.status_code == 202 else None)
        if got != expected:
            rel.tally.mismatches.append("race: wrong answer to a losing submission")
            raise AssertionError(f"a losing submission got {got}, expected {expected}: {response.text[:300]}")
    metadata = winner["subject"]["metadata"]
    document = finish(host, winner["requestId"])
    if document["state"] != "succeeded":
        raise AssertionError(f"the raced request did not succeed: {outcome(document)}")
    theirs = {i for i, m in rel.images("race").items() if m.get("subjectId") == metadata["subjectId"]}
    folder = rel.folder(winner["requestId"])
    if operation == "dry-run":
        found = receipt_documents(rel, document).values()
        used = {i for r in found if r["category"] == "images" for i in r["targeted"]["ids"]}
    else:
        used = {
            record["id"]
            for name in folder.names()
            if name.endswith(".ndjson") and "/images/" in name
            for record in folder.ndjson(name)
        }
    check_equal(rel, f"race ({operation}): images used by the run", sorted(used), sorted(theirs))
    stored = orchestration_input(host, winner["requestId"])["request"]["subject"]
    check_equal(
        rel, f"race ({operation}): subject payload read", folder.json(stored["metadataFile"]), metadata
    )
