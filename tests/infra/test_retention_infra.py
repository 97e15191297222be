"""Retention and immutability in ``infra/``: the lifecycle policy deletes the export container's working
copies on the app's own retention periods (one source: the same parameters feed the policy and the app
settings, with dsr/config.py's defaults), and receipts and status documents go to an account of their
own with blob versioning and a version-level WORM policy."""

from __future__ import annotations

import re
from pathlib import Path

from dsr import layout
from dsr.config import (
    DEFAULT_EXPORT_CONTAINER,
    DEFAULT_EXPORT_RETENTION_DAYS,
    DEFAULT_RECORDS_CONTAINER,
    DEFAULT_REJECTED_RETENTION_DAYS,
    RETENTION_SCHEDULE_SETTING,
)
from tests.infra.bicep_text import BicepFile, body_after, entries, literal

INFRA = Path(__file__).resolve().parents[2] / "infra"
MAIN = BicepFile(INFRA / "main.bicep")
STORAGE = BicepFile(INFRA / "app" / "storage.bicep")
RECORDS = BicepFile(INFRA / "app" / "records.bicep")
API = BicepFile(INFRA / "app" / "api.bicep")


def lifecycle_rules() -> dict[str, tuple[list[str], str]]:
    policy = STORAGE.resources("managementPolicies")["lifecycle"]
    rules: dict[str, tuple[list[str], str]] = {}
    for rule in re.split(r"\n\s*\{\s*\n(?=\s*name:)", body_after(policy, r"rules:")):
        if "name:" not in rule:
            continue
        name = literal(entries(rule)["name"])
        assert name is not None
        prefixes = re.findall(r"'([^']+)'", body_after(rule, r"prefixMatch:"))
        days = entries(body_after(body_after(rule, r"baseBlob:"), r"delete:"))["daysAfterCreationGreaterThan"]
        rules[name] = (prefixes, days)
    return rules


def test_lifecycle_deletes_exports_and_rejected_items_on_the_app_s_periods() -> None:
    rules = lifecycle_rules()
    assert rules == {
        "expire-rejected-intake": (
            ["${exportContainerName}/" + layout.REJECTED_PREFIX],
            "rejectedRetentionDays",
        ),
        "expire-exports": (["${exportContainerName}/"], "exportRetentionDays"),
    }
    storage = MAIN.module_params("storage")
    api = MAIN.module_params("api")
    for name in ("exportRetentionDays", "rejectedRetentionDays"):
        assert storage[name] == api[name] == name
    params = MAIN.params()
    assert float(params["exportRetentionDays"] or "") == DEFAULT_EXPORT_RETENTION_DAYS
    assert float(params["rejectedRetentionDays"] or "") == DEFAULT_REJECTED_RETENTION_DAYS
    settings = entries(body_after(API.text, r"^var appSettings ="))
    assert settings["DSR_EXPORT_RETENTION_DAYS"] == "string(exportRetentionDays)"
    assert settings["DSR_REJECTED_RETENTION_DAYS"] == "string(rejectedRetentionDays)"
    assert settings[RETENTION_SCHEDULE_SETTING] == "retentionSchedule"
    assert literal(MAIN.variables()["exportContainerName"]) == DEFAULT_EXPORT_CONTAINER


def test_the_main_account_keeps_no_versions_or_soft_deleted_copies() -> None:
    blob_service = STORAGE.resources("blobServices")["blobService"]
    assert "isVersioningEnabled" not in blob_service
    assert entries(body_after(blob_service, r"deleteRetentionPolicy:"))["enabled"] == "false"


def test_records_account_is_version_level_worm_and_private() -> None:
    account = RECORDS.resources("Microsoft.Storage/storageAccounts")["records"]
    properties = entries(body_after(account, r"^  properties:"))
    assert properties["allowSharedKeyAccess"] == "false"
    assert properties["allowBlobPublicAccess"] == "false"
    assert properties["minimumTlsVersion"] == "'TLS1_2'"
    worm = body_after(account, r"immutableStorageWithVersioning:")
    assert entries(worm)["enabled"] == "true"
    policy = entries(body_after(worm, r"immutabilityPolicy:"))
    assert policy == {
        "immutabilityPeriodSinceCreationInDays": "immutabilityDays",
        "state": "immutabilityState",
        "allowProtectedAppendWrites": "false",
    }
    blob_service = RECORDS.resources("blobServices")["blobService"]
    assert entries(body_after(blob_service, r"properties:"))["isVersioningEnabled"] == "true"
    container = RECORDS.resources("containers")["recordsContainer"]
    assert entries(body_after(container, r"properties:"))["publicAccess"] == "'None'"
    assert literal(MAIN.variables()["recordsContainerName"]) == DEFAULT_RECORDS_CONTAINER
    records = MAIN.module_params("records")
    assert records["immutabilityState"] == "recordsImmutabilityState"
    assert MAIN.params()["recordsImmutabilityState"] == "'Unlocked'"


def test_the_app_writes_records_to_that_account_with_its_identity() -> None:
    settings = entries(body_after(API.text, r"^var appSettings ="))
    assert settings["DSR_RECORDS_CONNECTION"] == "recordsBlobEndpoint"
    assert MAIN.module_params("api")["recordsBlobEndpoint"] == "records.outputs.blobEndpoint"
    assert settings["DSR_RECORDS_CONTAINER"] == "recordsContainerName"
