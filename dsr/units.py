"""Units of work: how a request is cut into activity calls, and the plain-JSON shapes they exchange.

This module is pure (no I/O) so orchestrators may import it. A *unit* is one activity's worth of work
for one category, usually for one project. Units that page through large lists (image export) return
a ``next`` cursor and are called again until it is ``None``; that keeps each activity short and each
orchestration history bounded, however many images an account holds.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from dsr.categories import ITERATION_CATEGORIES, Category
from dsr.contract import DsrRequest, SubjectScope

ITERATIONS_UNIT = "iterations"
"""Delete unit that serves iterationDetails, iterationPerformance and iterationList at once."""

UnitState = Literal["succeeded", "failed", "skipped", "not_attributable", "manual_action_required"]


class ResolvedAccount(TypedDict):
    endpoint: str
    trainingKeySecret: str
    secretVersion: str


class ProjectSummary(TypedDict):
    id: str
    name: str


class Job(TypedDict):
    """What every activity of one request needs to know. Holds no secret and no key."""

    requestId: str
    operation: Literal["export", "delete"]
    account: ResolvedAccount
    projectIds: list[str]
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
        "subject": request["subject"],
        "dryRun": request["dryRun"],
    }


def unit_category(category: str, operation: str) -> str:
    """The unit that does a category's work: the three iteration categories share one delete."""
    if operation == "delete" and category in ITERATION_CATEGORIES:
        return ITERATIONS_UNIT
    return category


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
