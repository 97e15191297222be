"""Units of work: how a request is cut into activity calls, and the plain-JSON shapes they exchange.

This module is pure (no I/O) so orchestrators may import it. A *unit* is one activity's worth of work
for one category, usually for one project. Units that page through large lists (image export) return
a ``next`` cursor and are called again until it is ``None``; that keeps each activity short and each
orchestration history bounded, however many images an account holds.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from dsr.categories import ITERATION_CATEGORIES, Category
from dsr.contract import DsrRequest, SubjectScope

ITERATIONS_UNIT = "iterations"
"""Delete unit that serves iterationDetails, iterationPerformance and iterationList at once."""

UnitState = Literal["succeeded", "failed", "skipped", "not_attributable", "manual_action_required"]


class ResolvedAccount(TypedDict):
    endpoint: str
    trainingKeySecret: str
    secretVersion: str
    callsPerSecond: NotRequired[float]
    """The request's Training API budget for the account; absent: the app's default."""


class ProjectSummary(TypedDict):
    id: str
    name: str


class Job(TypedDict):
    """What every activity of one request needs to know. Holds no secret and no key."""

    requestId: str
    operation: Literal["export", "delete"]
    account: ResolvedAccount
    projectIds: list[str]
    categories: list[str]
    """Every category the request names (units that can serve two at once need to know)."""
    subject: SubjectScope | None
    dryRun: bool
    attempt: NotRequired[int]
    """Which attempt of the request runs (1, then one more per retry): a delete unit whose receipt an
    earlier attempt wrote unverified verifies again (see :func:`dsr.erasure.run_delete_unit`). Read
    it with :func:`job_attempt`: jobs of requests started before it existed do not have it."""


class Unit(TypedDict):
    category: str
    """A :class:`Category` value, or ``iterations`` for the shared iteration delete."""
    projectId: str | None
    cursor: str | None
    """Opaque position of a paging unit; None to start."""


class UnitResult(TypedDict):
    category: str
    projectId: str | None
    state: UnitState
    counts: dict[str, int]
    files: list[dict[str, Any]]
    verified: bool | None
    note: str | None
    next: str | None


PER_PROJECT_EXPORT: frozenset[str] = frozenset({Category.IMAGES, Category.PREDICTIONS})
PER_PROJECT_DELETE: frozenset[str] = frozenset(
    {Category.IMAGES, Category.PREDICTIONS, Category.TAGS, Category.PROJECTS, ITERATIONS_UNIT}
)


def make_job(request: DsrRequest, account: ResolvedAccount, project_ids: list[str], attempt: int) -> Job:
    return {
        "requestId": request["requestId"],
        "operation": request["operation"],
        "account": account,
        "projectIds": project_ids,
        "categories": list(request["categories"]),
        "subject": request["subject"],
        "dryRun": request["dryRun"],
        "attempt": attempt,
    }


def job_attempt(job: Job) -> int:
    """The attempt that runs ``job`` (the first, in a job from before attempts were recorded)."""
    return job.get("attempt", 1)


def unit_category(category: str, operation: str) -> str:
    """The unit that does a category's work: the three iteration categories share one delete."""
    if operation == "delete" and category in ITERATION_CATEGORIES:
        return ITERATIONS_UNIT
    return category


PERFORMANCE_COUNTS = frozenset({"iterations", "imagePerformances"})
OPERATIONAL_COUNTS = frozenset({"apiCalls", "throttled"})
"""Counts of how the work went (Training API calls made, 429s met), not of the customer's data: they
differ between runs of the same request, so the documents handed to people leave them out."""


def data_counts(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` without the :data:`OPERATIONAL_COUNTS`."""
    return {name: value for name, value in counts.items() if name not in OPERATIONAL_COUNTS}


def shared_export_units(categories: list[str], subject_scoped: bool) -> dict[str, list[str]]:
    """Which unit serves which export categories: images also serves iteration performance when both
    are requested (one listing of each trained iteration feeds both), unless the images are one
    subject's (iteration performance is never narrowed to a subject)."""
    serves: dict[str, list[str]] = {category: [category] for category in categories}
    if not subject_scoped and Category.IMAGES in serves and Category.ITERATION_PERFORMANCE in serves:
        del serves[Category.ITERATION_PERFORMANCE]
        serves[Category.IMAGES].append(Category.ITERATION_PERFORMANCE)
    return serves


def phase_units(operation: str, phase: list[str], subject_scoped: bool) -> dict[str, list[str]]:
    """Which unit runs for which categories of one phase (shared units serve several)."""
    if operation == "export":
        return shared_export_units(phase, subject_scoped)
    serves: dict[str, list[str]] = {}
    for category in phase:
        serves.setdefault(unit_category(category, operation), []).append(category)
    return serves


def plan_units(category: str, job: Job) -> list[Unit]:
    """The units for one category (or the shared ``iterations`` delete unit) of a request."""
    per_project = PER_PROJECT_EXPORT if job["operation"] == "export" else PER_PROJECT_DELETE
    if category in per_project:
        return [{"category": category, "projectId": pid, "cursor": None} for pid in job["projectIds"]]
    return [{"category": category, "projectId": None, "cursor": None}]


def empty_result(unit: Unit, state: UnitState, note: str | None = None) -> UnitResult:
    return {
        "category": unit["category"],
        "projectId": unit["projectId"],
        "state": state,
        "counts": {},
        "files": [],
        "verified": None,
        "note": note,
        "next": None,
    }


def combine_results(combined: UnitResult | None, result: UnitResult) -> UnitResult:
    """The results of a paging unit's calls so far folded with its latest call's ``result``.

    A failed call ends the unit failed with its note; otherwise the calls' notes are kept, each once. A
    delete unit verifies in its last call.
    """
    if combined is None:
        return result
    counts = dict(combined["counts"])
    for name, value in result["counts"].items():
        counts[name] = counts.get(name, 0) + value
    folded: UnitResult = {
        **combined,
        "counts": counts,
        "files": [*combined["files"], *result["files"]],
        "note": "; ".join(dict.fromkeys(note for note in (combined["note"], result["note"]) if note)) or None,
    }
    if result["verified"] is not None:
        folded["verified"] = result["verified"]
    if result["state"] == "failed":
        folded["state"], folded["note"] = "failed", result["note"]
    return folded
