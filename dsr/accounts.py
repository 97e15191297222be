"""Resolving the account a request names: endpoint allow-list, Key Vault secret version, projects in scope."""

from __future__ import annotations

from typing import TypedDict

from dsr.contract import DsrRequest
from dsr.export import record_account_listing
from dsr.runtime import Runtime
from dsr.units import ProjectSummary, ResolvedAccount


class AccountResolution(TypedDict):
    account: ResolvedAccount
    projects: list[ProjectSummary]
    missingProjectIds: list[str]
    """Requested project ids the account does not have (already deleted, or never existed)."""


def resolve_account(request: DsrRequest, runtime: Runtime) -> AccountResolution:
    """Check the endpoint, pin the key's current version, and list the projects the request covers.

    For an export it also lists each in-scope project's iterations, once for the whole request (see
    :func:`dsr.export.record_account_listing`). Raises ``EndpointNotAllowedError`` before anything is
    sent anywhere, ``SecretNotFoundError`` when the named secret does not exist, and Custom Vision
    errors (e.g. a wrong key) from the first call.
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
            in_scope = [p["id"] for p in projects]
            record_account_listing(request["requestId"], runtime.store, client, listed, in_scope)
    return {"account": account, "projects": projects, "missingProjectIds": missing}
