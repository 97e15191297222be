"""Invariants of ``infra/`` (Bicep) and ``azure.yaml`` that hold without Azure or a Bicep compiler.

No Bicep compiler installs from the registries this project reaches, so these tests read the templates
as text (``bicep_text``) and check what a deployment depends on: the wiring between ``main.bicep``, its
parameters file and its modules; every setting the app needs is set, and loads with ``dsr.config``;
the security posture (no shared keys, TLS 1.2, https only, no FTP or basic publishing, RBAC-only Key
Vault with purge protection, Entra-only telemetry); least-privilege, ``guid()``-named role
assignments; and no key or secret in any output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from dsr.config import REQUEST_QUEUE_SETTING, load_settings
from dsr.customvision import DEFAULT_ENDPOINT_SUFFIXES
from dsr.errors import ConfigurationError
from tests.infra.bicep_text import BicepFile, body_after, entries, literal

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = BicepFile(INFRA / "main.bicep")
API = BicepFile(INFRA / "app" / "api.bicep")
STORAGE = BicepFile(INFRA / "app" / "storage.bicep")
KEY_VAULT = BicepFile(INFRA / "app" / "keyvault.bicep")
MONITORING = BicepFile(INFRA / "app" / "monitoring.bicep")
RBAC = BicepFile(INFRA / "app" / "rbac.bicep")

ROLE_IDS = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
BROAD_ROLE_IDS = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-46ed-a97b-0b5f64f5f4fd",  # Contributor
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",  # Key Vault Administrator
    "17d1049b-9a84-46fb-8f53-869881c3d3ab",  # Storage Account Contributor
}
# Settings that only a local stand-in needs (devstack); in Azure they would weaken a check or point
# the app at a loopback service.
LOCAL_ONLY_SETTINGS = {
    "AzureWebJobsStorage",
    "AZURE_FUNCTIONS_ENVIRONMENT",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "DSR_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE",
    "DSR_KEY_VAULT_CA_BUNDLE",
    "DSR_ALLOWED_ENDPOINT_ORIGINS",
    "DSR_CALLBACK_ALLOWED_ORIGINS",
}
# Flex Consumption takes these from functionAppConfig or has no use for them.
NOT_ON_FLEX = {
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
}


def app_settings() -> dict[str, str]:
    return entries(body_after(API.text, r"^var appSettings ="))


def resolved_setting(value: str) -> str | None:
    """What an app setting will hold, where the templates say it as a literal (or ``string()`` of a
    number parameter); None otherwise."""
    if (text := literal(value)) is not None:
        return text
    as_string = re.fullmatch(r"string\((\w+)\)", value)
    passed = MAIN.module_params("api").get(as_string.group(1) if as_string else value)
    if passed is None:
        return None
    if (text := literal(passed)) is not None:
        return text
    source = MAIN.variables().get(passed) or MAIN.params().get(passed)
    if as_string and source and re.fullmatch(r"\d+", source):
        return source
    return literal(source) if source else None


def settings_read_by_app() -> set[str]:
    source = (ROOT / "dsr" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'env\.get\(\s*"([A-Za-z_]+)"', source))


def deployed_environment() -> dict[str, str]:
    """The app settings as the app will see them; expressions only known at deploy time get a
    stand-in of the right shape (an https URL)."""
    return {
        name: resolved
        if (resolved := resolved_setting(value)) is not None
        else "https://deploy-time.invalid/"
        for name, value in app_settings().items()
    }


# --- wiring ---------------------------------------------------------------------------------------


def test_parameters_file_feeds_main_from_the_azd_environment() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    declared = MAIN.params()
    assert set(parameters) <= set(declared), "main.parameters.json sets a parameter main.bicep lacks"
    required = {name for name, default in declared.items() if default is None}
    assert required <= set(parameters), "a required parameter of main.bicep is not in the parameters file"
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION}"
    assert parameters["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    for name, entry in parameters.items():
        assert re.fullmatch(r"\$\{[A-Z_]+(=[^}]*)?\}", entry["value"]), f"{name}: not an azd variable"


def test_modules_exist_get_their_parameters_and_expose_what_main_reads() -> None:
    modules = MAIN.modules()
    assert set(modules) >= {"api", "storage", "keyVault", "monitoring", "rbac"}
    for symbol, relative in modules.items():
        module = BicepFile(INFRA / relative)
        assert module.path.is_file(), f"module {symbol}: {relative} is missing"
        declared = module.params()
        passed = MAIN.module_params(symbol)
        assert set(passed) <= set(declared), f"module {symbol} gets unknown params"
        missing = {name for name, default in declared.items() if default is None} - set(passed)
        assert not missing, f"module {symbol} lacks required params {missing}"
        used = set(re.findall(rf"\b{symbol}\.outputs\.(\w+)", MAIN.text))
        assert used <= set(module.outputs()), f"main reads outputs {symbol} does not declare"


def test_naming_follows_azd_conventions() -> None:
    text = MAIN.text
    assert re.search(r"^targetScope = 'subscription'$", text, flags=re.MULTILINE)
    assert "loadJsonContent('abbreviations.json')" in text
    assert "uniqueString(subscription().id, environmentName, location)" in text
    assert "'azd-env-name': environmentName" in text
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text(encoding="utf-8"))
    assert set(re.findall(r"abbrs\.(\w+)", text)) <= set(abbreviations)
    token = "a" * 13  # uniqueString() is always 13 characters
    storage_name = abbreviations["storageStorageAccounts"] + token
    assert re.fullmatch(r"[a-z0-9]{3,24}", storage_name)
    assert len(abbreviations["keyVaultVaults"] + token) <= 24
    app_name = f"{abbreviations['webSitesFunctions']}api-{token}"
    container = f"app-package-{app_name[:32]}-{token[:7]}"
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?!-)){2,62}", container)


def test_azure_yaml_declares_the_function_service_and_the_app_carries_its_tag() -> None:
    lines = (ROOT / "azure.yaml").read_text(encoding="utf-8").splitlines()
    service: dict[str, str] = {}
    in_api = False
    for line in lines:
        if re.fullmatch(r"  api:\s*", line):
            in_api = True
        elif in_api and (match := re.fullmatch(r"    (\w+): (.+?)\s*", line)):
            service[match.group(1)] = match.group(2)
        elif in_api and line.strip():
            in_api = False
    assert "services:" in lines
    assert service == {"project": ".", "language": "python", "host": "function"}
    assert MAIN.module_params("api")["serviceName"] == "'api'"
    assert "'azd-service-name': serviceName" in API.text


# --- app settings ---------------------------------------------------------------------------------


def test_every_required_setting_is_set_and_the_settings_load() -> None:
    environment = deployed_environment()
    settings = load_settings(environment)
    read = settings_read_by_app()
    assert read, "dsr/config.py reads no settings?"
    required = set()
    for name in read & set(environment):
        with_out = {key: value for key, value in environment.items() if key != name}
        try:
            load_settings(with_out)
        except ConfigurationError:
            required.add(name)
    assert {"DSR_STORAGE_CONNECTION", "DSR_KEY_VAULT_URL"} <= required
    with pytest.raises(ConfigurationError):
        load_settings({})
    # Production values, not the local ones.
    assert settings.key_vault_verify_challenge_resource is True
    assert settings.key_vault_ca_bundle is None
    assert settings.allowed_endpoint_suffixes == DEFAULT_ENDPOINT_SUFFIXES
    assert settings.allowed_endpoint_origins == ()
    assert settings.callback_allowed_origins == ()
    assert settings.export_container == "dsr-exports"
    assert settings.approval_required is False
    assert settings.records_container == "dsr-records"
    assert settings.records_connection.startswith("https://")
    assert (settings.export_retention_days, settings.rejected_retention_days) == (30, 7)


def test_storage_and_key_vault_settings_point_at_azure_with_managed_identity() -> None:
    settings = app_settings()
    blob_url = literal(settings["DSR_STORAGE_CONNECTION"])
    assert blob_url is not None
    assert re.fullmatch(r"https://x\.blob\.x", blob_url), "must be the blob account URL (identity auth)"
    assert "${storage.name}" in settings["DSR_STORAGE_CONNECTION"]
    assert MAIN.module_params("api")[settings["DSR_KEY_VAULT_URL"]] == "keyVault.outputs.uri"
    assert KEY_VAULT.outputs()["uri"] == "vault.properties.vaultUri"
    # DefaultAzureCredential must pick the app's user-assigned identity.
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"


def test_host_storage_is_identity_based_for_every_binding_connection() -> None:
    settings = app_settings()
    sources = [ROOT / "function_app.py", *sorted((ROOT / "triggers").glob("*.py"))]
    connections = {"AzureWebJobsStorage"}  # Durable's task hub uses it by default
    for source in sources:
        connections |= set(re.findall(r'connection="(\w+)"', source.read_text(encoding="utf-8")))
    for connection in connections:
        assert connection not in settings, f"{connection}: a connection string, not an identity"
        assert settings.get(f"{connection}__accountName") == "storage.name", connection
        assert settings.get(f"{connection}__credential") == "'managedidentity'", connection
        assert settings.get(f"{connection}__clientId") == "identityClientId", connection


def test_queue_binding_setting_names_the_queue_storage_creates() -> None:
    settings = app_settings()
    assert REQUEST_QUEUE_SETTING in settings
    queue = resolved_setting(settings[REQUEST_QUEUE_SETTING])
    assert queue == "dsr-requests"
    queues = set(_names_of(STORAGE.resources("queues").values()))
    assert queues == {"requestQueueName", "'${requestQueueName}-poison'"}
    assert MAIN.module_params("storage")["requestQueueName"] == "requestQueueName"


def test_no_local_only_or_flex_deprecated_settings() -> None:
    settings = set(app_settings())
    assert not settings & LOCAL_ONLY_SETTINGS
    assert not settings & NOT_ON_FLEX
    assert "appSettings" not in body_after(API.text, r"^\s+siteConfig:"), "settings belong in one place"


# --- security posture -----------------------------------------------------------------------------


def test_storage_account_refuses_keys_and_plain_http() -> None:
    account = entries(body_after(STORAGE.text, r"^\s+properties:"))
    assert account["allowSharedKeyAccess"] == "false"
    assert account["allowBlobPublicAccess"] == "false"
    assert account["supportsHttpsTrafficOnly"] == "true"
    assert account["minimumTlsVersion"] == "'TLS1_2'"
    assert account["defaultToOAuthAuthentication"] == "true"
    containers = STORAGE.resources("containers")
    assert set(_names_of(containers.values())) == {"exportContainerName", "deploymentContainerName"}
    for body in containers.values():
        assert entries(body_after(body, r"properties:"))["publicAccess"] == "'None'"
    assert MAIN.variables()["exportContainerName"] == "'dsr-exports'"


def test_key_vault_is_rbac_only_with_purge_protection() -> None:
    vault = entries(body_after(KEY_VAULT.text, r"^\s+properties:"))
    assert vault["enableRbacAuthorization"] == "true"
    assert vault["enableSoftDelete"] == "true"
    assert vault["enablePurgeProtection"] == "true"
    assert "accessPolicies" not in vault


def test_telemetry_needs_entra_id() -> None:
    component = body_after(MONITORING.text, r"^resource appInsights 'Microsoft\.Insights/components@")
    assert entries(body_after(component, r"properties:"))["DisableLocalAuth"] == "true"
    workspace = body_after(MONITORING.text, r"Microsoft\.OperationalInsights/workspaces@")
    assert entries(body_after(workspace, r"features:"))["disableLocalAuth"] == "true"
    auth = literal(app_settings()["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"])
    assert auth == "ClientId=x;Authorization=AAD"


def test_function_app_is_https_only_tls12_without_ftp_or_basic_publishing() -> None:
    site = body_after(API.text, r"^resource app 'Microsoft\.Web/sites@")
    properties = entries(body_after(site, r"^\s+properties:"))
    assert properties["httpsOnly"] == "true"
    site_config = entries(body_after(site, r"^\s+siteConfig:"))
    assert site_config["minTlsVersion"] == "'1.2'"
    assert site_config["ftpsState"] == "'Disabled'"
    policies = API.resources("basicPublishingCredentialsPolicies")
    assert {literal(entries(body)["name"]) for body in policies.values()} == {"ftp", "scm"}
    for body in policies.values():
        assert entries(body_after(body, r"properties:"))["allow"] == "false"
    identity = entries(body_after(site, r"^\s+identity:"))
    assert identity["type"] == "'UserAssigned'"
    runtime = entries(body_after(site, r"^\s+runtime:"))
    assert runtime == {"name": "'python'", "version": "'3.11'"}
    deployment = entries(body_after(site, r"^\s+authentication:"))
    assert deployment["type"] == "'UserAssignedIdentity'"
    plan = body_after(API.text, r"^resource plan 'Microsoft\.Web/serverfarms@")
    assert entries(body_after(plan, r"sku:")) == {"name": "'FC1'", "tier": "'FlexConsumption'"}


def test_http_routes_require_a_function_key() -> None:
    app = (ROOT / "function_app.py").read_text(encoding="utf-8")
    assert "http_auth_level=func.AuthLevel.FUNCTION" in app
    for source in sorted((ROOT / "triggers").glob("*.py")):
        assert "AuthLevel.ANONYMOUS" not in source.read_text(encoding="utf-8"), source.name


# --- roles ----------------------------------------------------------------------------------------


def test_role_assignments_are_guid_named_and_least_privilege() -> None:
    role_vars = {name: literal(value) for name, value in RBAC.variables().items()}
    assignments = RBAC.resources("Microsoft.Authorization/roleAssignments")
    granted: set[tuple[str, str, str]] = set()
    for symbol, body in assignments.items():
        fields = entries(body)
        properties = entries(body_after(body, r"properties:"))
        role_var = re.fullmatch(r"subscriptionResourceId\('[^']+', (\w+)\)", properties["roleDefinitionId"])
        assert role_var, symbol
        role_id = role_vars[role_var.group(1)]
        assert role_id in ROLE_IDS, f"{symbol}: unexpected role {role_id}"
        scope, principal = fields["scope"], properties["principalId"]
        assert fields["name"] == f"guid({scope}.id, {principal}, {role_var.group(1)})", symbol
        granted.add((principal, ROLE_IDS[role_id], scope))
    assert granted == {
        ("appPrincipalId", "Storage Blob Data Owner", "storage"),
        ("appPrincipalId", "Storage Blob Data Contributor", "records"),
        ("appPrincipalId", "Storage Queue Data Contributor", "storage"),
        ("appPrincipalId", "Storage Table Data Contributor", "storage"),
        ("appPrincipalId", "Key Vault Secrets User", "vault"),
        ("appPrincipalId", "Monitoring Metrics Publisher", "appInsights"),
        ("deployerPrincipalId", "Key Vault Secrets Officer", "vault"),
    }
    every_id = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", RBAC.text))
    assert not every_id & BROAD_ROLE_IDS
    assert "roleAssignments" not in "".join(
        f.read_text(encoding="utf-8") for f in INFRA.rglob("*.bicep") if f.name != "rbac.bicep"
    ), "role assignments live in app/rbac.bicep only"


# --- secrets --------------------------------------------------------------------------------------

SECRET_WORDS = re.compile(r"key(?!vault)|secret|password|connectionstring|sas|token", re.IGNORECASE)


@pytest.mark.parametrize(
    "path", sorted(INFRA.rglob("*.bicep")), ids=lambda p: p.relative_to(INFRA).as_posix()
)
def test_no_key_or_secret_is_read_or_output(path: Path) -> None:
    module = BicepFile(path)
    for forbidden in ("listKeys(", "listkeys(", "AccountKey=", "SharedAccessSignature", "InstrumentationKey"):
        assert forbidden not in module.text, forbidden
    for name, expression in module.outputs().items():
        assert not SECRET_WORDS.search(re.sub(r"key_?vault", "keyvault", name, flags=re.IGNORECASE)), name
        assert not re.search(r"ConnectionString|listKeys|secret|primaryKey", expression), name


def _names_of(bodies: Iterable[str]) -> list[str]:
    return [entries(body)["name"] for body in bodies]
