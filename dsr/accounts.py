"""Resolving the account a request names: endpoint allow-list, Key Vault secret version, projects in scope."""

from __future__ import annotations

from typing import TypedDict

from dsr.contract import DsrRequest
from dsr.customvision import Iteration, NotFoundError, TrainingClient
from dsr.export import record_account_listing
from dsr.runtime import Runtime
from dsr.unit_runner import project_exists
from dsr.units import ProjectSummary, ResolvedAccount


class AccountResolution(TypedDict):
    account: ResolvedAccount
    projects: list[ProjectSummary]
    missingProjectIds: list[str]
    """Requested project ids the account does not have (already deleted, or never existed), and for an
    export the projects deleted while resolution listed their iterations."""


def _list_iterations(
    client: TrainingClient, project_ids: list[str]
) -> tuple[dict[str, list[Iteration]], list[str]]:
    """Each project's iterations, and the projects deleted since GetProjects listed them (their
    GetIterations answers NotFound, and so does GetProject). Any other NotFound is raised."""
    iterations: dict[str, list[Iteration]] = {}
    gone: list[str] = []
    for pid in project_ids:
        try:
            iterations[pid] = client.get_iterations(pid)
        except NotFoundError:
            if project_exists(client, pid):
                raise
            gone.append(pid)
    return iterations, gone


def resolve_account(request: DsrRequest, runtime: Runtime) -> AccountResolution:
    """Check the endpoint, pin the key's current version, and list the projects the request covers.

    For an export it also lists each in-scope project's iterations, once for the whole request (see
    :func:`dsr.export.record_account_listing`); a project deleted before its iterations were listed
    leaves the scope and is reported with the missing ones. Raises ``EndpointNotAllowedError`` before
    anything is sent anywhere, ``SecretNotFoundError`` when the named secret does not exist, and Custom
    Vision errors (e.g. a wrong key) from the first call.
    """
    endpoint = request["account"]["endpoint"]
    runtime.allow_list.check(endpoint)
    secret_name = request["account"]["trainingKeySecret"]
    account: ResolvedAccount = {
        "endpoint": endpoint,
        "trainingKeySecret": secret_name,
        "secretVersion": runtime.secrets.resolve_version(secret_name),
    }
    if "callsPerSecond" in request["account"]:
        account["callsPerSecond"] = request["account"]["callsPerSecond"]
    with runtime.unit_client(account) as (client, _):
        listed = client.get_projects()
        projects = [ProjectSummary(id=p.id, name=p.name) for p in listed]
        wanted = request["projectIds"]
        missing: list[str] = []
        if wanted is not None:
            present = {p["id"] for p in projects}
            projects = [p for p in projects if p["id"] in set(wanted)]
            missing = [pid for pid in wanted if pid not in present]
        if request["operation"] == "export":
            iterations, gone = _list_iterations(client, [p["id"] for p in projects])
            projects = [p for p in projects if p["id"] not in gone]
            listed = [p for p in listed if p.id not in gone]
            missing += [pid for pid in gone if pid not in missing]
            in_scope = {p["id"]: iterations[p["id"]] for p in projects}
            record_account_listing(request["requestId"], runtime.store, listed, in_scope)
    return {"account": account, "projects": projects, "missingProjectIds": missing}
