"""Invariants of the Bicep templates that can be checked without a Bicep compiler (none installs here).

They pin the security posture (no shared keys, TLS 1.2, https only, no basic publishing, RBAC Key
Vault) and the wiring the app depends on (every setting it requires is set; queue and container
names match the app's).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def text(name: str) -> str:
    return (INFRA / name).read_text()


def all_bicep() -> dict[str, str]:
    return {p.relative_to(INFRA).as_posix(): p.read_text() for p in INFRA.rglob("*.bicep")}


def app_settings() -> set[str]:
    return set(re.findall(r"\{ name: '([A-Za-z0-9_]+)', value:", text("app/function.bicep")))


def test_every_module_referenced_by_main_exists():
    for module in re.findall(r"module \w+ '([^']+)'", text("main.bicep")):
        assert (INFRA / module).is_file(), module


def test_parameters_file_matches_main():
    parameters = json.loads(text("main.parameters.json"))["parameters"]
    declared = set(re.findall(r"^param (\w+)", text("main.bicep"), flags=re.MULTILINE))
    assert set(parameters) <= declared
    required = {
        p for p in declared if not re.search(rf"^param {p} \w+ =", text("main.bicep"), flags=re.MULTILINE)
    }
    assert required <= set(parameters)


def test_settings_the_app_requires_are_set():
    config = (ROOT / "dsr" / "config.py").read_text()
    required = {"DSR_STORAGE_CONNECTION", "DSR_KEY_VAULT_URL"}
    assert all(name in config for name in required)
    queue_binding = (ROOT / "triggers" / "queue_intake.py").read_text()
    assert "REQUEST_QUEUE_SETTING" in queue_binding  # %DSR_REQUEST_QUEUE% must resolve in Azure
    settings = app_settings()
    assert required | {"DSR_REQUEST_QUEUE", "AZURE_CLIENT_ID"} <= settings
    assert {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential"} <= settings
    read = set(re.findall(r'"(DSR_[A-Z_]+)"', config))
    assert settings - {"AZURE_CLIENT_ID"} <= read | {
        "AzureWebJobsStorage__accountName",
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "DSR_REQUEST_QUEUE",
    }, "function.bicep sets a setting the app does not read"


def test_no_secrets_are_created_or_exposed():
    for name, body in all_bicep().items():
        assert "listKeys(" not in body, name
        assert "AccountKey=" not in body, name
        for output in re.findall(r"^output (\w+)", body, flags=re.MULTILINE):
            bare = re.sub(r"key_?vault", "", output, flags=re.IGNORECASE)
            assert not re.search(r"key|secret|password|connectionstring", bare, re.IGNORECASE) or (
                output == "appInsightsConnectionString"  # no key in it: local auth is disabled
            ), f"{name}: output {output}"
    assert "AzureWebJobsStorage'" not in text("app/function.bicep")  # identity-based only


SECURITY = {
    "app/storage.bicep": [
        "allowSharedKeyAccess: false",
        "allowBlobPublicAccess: false",
        "minimumTlsVersion: 'TLS1_2'",
        "supportsHttpsTrafficOnly: true",
    ],
    "app/keyvault.bicep": [
        "enableRbacAuthorization: true",
        "enablePurgeProtection: true",
        "enableSoftDelete: true",
    ],
    "app/function.bicep": [
        "httpsOnly: true",
        "ftpsState: 'Disabled'",
        "minTlsVersion: '1.2'",
        "name: 'ftp'",
        "name: 'scm'",
        "allow: false",
        "runtime: { name: 'python', version: '3.11' }",
    ],
    "app/monitoring.bicep": ["DisableLocalAuth: true"],
}


@pytest.mark.parametrize(("module", "required"), SECURITY.items())
def test_security_settings(module, required):
    body = text(module)
    for line in required:
        assert line in body, f"{module}: {line}"


def test_role_assignments_are_guid_named_and_least_privilege():
    rbac = text("app/rbac.bicep")
    assert rbac.count("Microsoft.Authorization/roleAssignments") == rbac.count("name: guid(")
    roles = set(re.findall(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'", rbac))
    owner, contributor = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-46ed-a97b-0b5f64f5f4fd"
    assert owner not in roles
    assert contributor not in roles
    assert "4633458b-17de-408a-b874-0445c86b69e6" in roles  # Key Vault Secrets User for the app


def test_names_match_the_app():
    main = text("main.bicep")
    assert "exportContainerName = 'dsr-exports'" in main
    assert "requestQueueName = 'dsr-requests'" in main
    assert "'${requestQueueName}-poison'" in text("app/storage.bicep")
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["queues"]["maxDequeueCount"] == 5
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert "host: function" in azure_yaml
    assert "'azd-service-name': 'api'" in text("app/function.bicep")
