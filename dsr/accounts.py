"""Resolving the account a request names: endpoint allow-list, Key Vault secret version, projects in scope."""

from __future__ import annotations

from typing import TypedDict

from dsr.contract import DsrRequest
from dsr.runtime import Runtime
from dsr.units import ProjectSummary, ResolvedAccount


class AccountResolution(TypedDict):
    account: ResolvedAccount
    projects: list[ProjectSummary]
    missingProjectIds: list[str]
    """Requested project ids the account does not have (already deleted, or never existed)."""


def resolve_account(request: DsrRequest, runtime: Runtime) -> AccountResolution:
    """Check the endpoint, pin the key's current version, and list the projects the request covers.

    Raises ``EndpointNotAllowedError`` before anything is sent anywhere, ``SecretNotFoundError`` when
    the named secret does not exist, and Custom Vision errors (e.g. a wrong key) from the first call.
    """
    endpoint = request["account"]["endpoint"]
    runtime.allow_list.check(endpoint)
    secret_name = request["account"]["trainingKeySecret"]
    account: ResolvedAccount = {
        "endpoint": endpoint,
        "trainingKeySecret": secret_name,
        "secretVersion": runtime.secrets.resolve_version(secret_name),
    }
    client = runtime.client_for(account)
    projects = [ProjectSummary(id=p.id, name=p.name) for p in client.get_projects()]
    wanted = request["projectIds"]
    if wanted is None:
        return {"account": account, "projects": projects, "missingProjectIds": []}
    present = {p["id"] for p in projects}
    return {
        "account": account,
        "projects": [p for p in projects if p["id"] in set(wanted)],
        "missingProjectIds": [pid for pid in wanted if pid not in present],
    }
