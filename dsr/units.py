"""Units of work: how a request is cut into activity calls, and the plain-JSON shapes they exchange.

This module is pure (no I/O) so orchestrators may import it. A *unit* is one activity's worth of work
for one category, usually for one project. Units that page through large lists (image export) return
a ``next`` cursor and are called again until it is ``None``; that keeps each activity short and each
orchestration history bounded, however many images an account holds.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from dsr import layout
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


def make_job(request: DsrRequest, account: ResolvedAccount, project_ids: list[str]) -> Job:
    return {
        "requestId": request["requestId"],
        "operation": request["operation"],
        "account": account,
        "projectIds": project_ids,
        "categories": list(request["categories"]),
        "subject": request["subject"],
        "dryRun": request["dryRun"],
    }


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


def split_shared_entry(entry: dict[str, Any], category: str) -> dict[str, Any]:
    """The part of a shared images entry that belongs to ``category`` (images or iterationPerformance)."""
    performance = category == Category.ITERATION_PERFORMANCE
    part = dict(entry)
    part["counts"] = {
        name: value
        for name, value in entry["counts"].items()
        if (name in PERFORMANCE_COUNTS) == performance  # apiCalls and throttled stay with images
    }
    part["files"] = [f for f in entry["files"] if layout.is_performance_file(f["path"]) == performance]
    if performance:
        part["note"] = "exported together with images, from one listing of each trained iteration"
    return part


def phase_units(operation: str, phase: list[str], subject_scoped: bool) -> dict[str, list[str]]:
    """Which unit runs for which categories of one phase (shared units serve several)."""
    if operation == "export":
        return shared_export_units(phase, subject_scoped)
    serves: dict[str, list[str]] = {}
    for category in phase:
        serves.setdefault(unit_category(category, operation), []).append(category)
    return serves


def category_entries(
    unit_name: str, categories: list[str], entry: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The status entry of each category a unit served, from the unit's one merged entry."""
    entries = {}
    for category in categories:
        shared = dict(entry)
        if unit_name == ITERATIONS_UNIT:
            shared["note"] = "removed by DeleteIteration together with the other iteration categories"
        elif len(categories) > 1:
            shared = split_shared_entry(entry, category)
        entries[category] = shared
    return entries


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
