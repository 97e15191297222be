"""Account resolution meeting a project deleted while it runs: between GetProjects and the project's
GetIterations (the export's one listing of iterations), against the in-process emulator.

Before: the listing (``record_account_listing``) called GetIterations for every project in scope
unguarded, so the deleted project's NotFoundProject (a PermanentError) came out of resolution; the
activity answered ``failed``, every category was skipped and the request could not be retried.
Now the project is dropped from scope and reported with the projects not found, and the listing is
recorded for the others.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsr import layout
from dsr.accounts import resolve_account
from dsr.contract import DsrRequest, parse_request
from dsr.customvision.client import TrainingClient
from dsr.customvision.errors import NotFoundError
from dsr.export import run_export_unit
from dsr.storage import get_json
from tests.functional.conftest import World, unit


def _request(world: World, operation: str, project_ids: list[str] | None) -> DsrRequest:
    return parse_request(
        {
            "requestId": "functional-1",
            "operation": operation,
            "account": {"endpoint": world.server.base_url, "trainingKeySecret": "cv"},
            "categories": ["projects", "iterationList"],
            "projectIds": project_ids,
        }
    )


def _delete_after_get_projects(world: World, monkeypatch: pytest.MonkeyPatch, pid: str) -> None:
    """Someone deletes ``pid`` right after resolution listed the account's projects."""
    real = TrainingClient.get_projects

    def listed_then_deleted(self: TrainingClient) -> Any:
        projects = real(self)
        world.account.projects.pop(pid, None)
        return projects

    monkeypatch.setattr(TrainingClient, "get_projects", listed_then_deleted)


@pytest.mark.parametrize("named", [True, False], ids=["projectIds", "all-projects"])
def test_a_project_deleted_during_resolution_leaves_the_others_in_scope(
    world: World, monkeypatch: pytest.MonkeyPatch, named: bool
):
    gone, kept = sorted(world.account.projects)
    _delete_after_get_projects(world, monkeypatch, gone)
    request = _request(world, "export", [gone, kept] if named else None)
    resolution = resolve_account(request, world.runtime())
    assert [p["id"] for p in resolution["projects"]] == [kept]
    assert resolution["missingProjectIds"] == [gone]
    listing = get_json(world.store, layout.account_listing(request["requestId"]))
    assert [p["id"] for p in listing["projects"]] == [kept]
    assert sorted(listing["iterations"]) == [kept]
    assert [it["id"] for it in listing["iterations"][kept]] == sorted(world.account.projects[kept].iterations)
    assert listing["projectCount"] == 1  # the account no longer has the deleted one

    # the export then runs for the project left, from that listing
    job = {**world.job("export"), "projectIds": [kept]}
    result = run_export_unit(job, unit("iterationList", None), world.runtime())  # type: ignore[arg-type]
    assert result["state"] == "succeeded", result


def test_a_project_not_found_in_resolution_but_still_there_fails_it(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    """Only a project that is gone is dropped: another NotFound while listing still fails resolution."""

    def not_found(self: TrainingClient, project_id: str) -> Any:
        raise NotFoundError("GetIterations", 404, "NotFoundProject")

    monkeypatch.setattr(TrainingClient, "get_iterations", not_found)
    with pytest.raises(NotFoundError):
        resolve_account(_request(world, "export", None), world.runtime())


def test_a_delete_resolves_without_listing_iterations(world: World, monkeypatch: pytest.MonkeyPatch):
    """A delete does not list iterations at resolution: a project deleted meanwhile stays in scope
    (its units find it gone and say so), as before."""
    gone, kept = sorted(world.account.projects)
    _delete_after_get_projects(world, monkeypatch, gone)
    resolution = resolve_account(_request(world, "delete", None), world.runtime())
    assert [p["id"] for p in resolution["projects"]] == [gone, kept]
    assert resolution["missingProjectIds"] == []
