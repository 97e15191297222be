"""The local configuration: app settings pointing at the stand-ins, and the generated local credentials.

``python -m devstack env`` prints it; ``start`` passes it to every service (the function app needs it).
Generated values (identity header, demo training key, emulator admin token, the Functions host's keys)
are random per local directory and stored with mode 0600. ``env`` prints the identity header, which
only the local token endpoint accepts, and the host keys, which only the local host accepts (run.sh
passes them to devhost that way, and cvdsr reads the function key from it).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from devstack.keyvault.certs import PRIVATE_FILE_MODE, write_file
from devstack.keyvault.server import load_or_create_identity_header
from devstack.layout import LOOPBACK, StackLayout

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's fixed, publicly documented development account key; it grants nothing outside Azurite.
AZURITE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEMO_SECRET_NAME = "cv-demo-training-key"  # noqa: S105 - a secret's name, not its value
DEMO_KEY_BYTES = 16
ADMIN_TOKEN_BYTES = 24
HOST_KEY_BYTES = 32
# The Functions host's keys as Azure keeps them apart: function key (function-level routes), the
# Durable extension's system key (its webhooks), master key (admin APIs, every route).
HOST_KEY_SETTINGS = {
    "DEVHOST_FUNCTION_KEY": "function-key",
    "DEVHOST_SYSTEM_KEY": "durabletask-extension-key",
    "DEVHOST_MASTER_KEY": "master-key",
}


def azurite_connection_string(layout: StackLayout) -> str:
    """Connection string for Azurite with explicit loopback endpoints on the configured ports."""
    base = f"http://{LOOPBACK}"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_ACCOUNT_KEY};"
        f"BlobEndpoint={base}:{layout.blob_port}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint={base}:{layout.queue_port}/{AZURITE_ACCOUNT};"
        f"TableEndpoint={base}:{layout.table_port}/{AZURITE_ACCOUNT};"
    )


def _load_or_create_token(path: Path, nbytes: int, *, hex_digits: bool = False) -> str:
    if path.exists():
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
    value = secrets.token_hex(nbytes) if hex_digits else secrets.token_urlsafe(nbytes)
    write_file(path, value.encode("ascii"), PRIVATE_FILE_MODE)
    return value


def demo_training_key(layout: StackLayout) -> str:
    """The demo account's training key (32 hex digits, like a real Custom Vision key), created once."""
    return _load_or_create_token(layout.demo_dir / "training-key", DEMO_KEY_BYTES, hex_digits=True)


def emulator_admin_token(layout: StackLayout) -> str:
    """The Custom Vision emulator's admin token, created once."""
    return _load_or_create_token(layout.demo_dir / "admin-token", ADMIN_TOKEN_BYTES)


def host_keys(layout: StackLayout) -> dict[str, str]:
    """The local Functions host's keys (created once per local directory), by setting name."""
    return {
        name: _load_or_create_token(layout.local_dir / "keys" / file, HOST_KEY_BYTES)
        for name, file in HOST_KEY_SETTINGS.items()
    }


def local_environment(layout: StackLayout) -> dict[str, str]:
    """Every setting the app and the tools need to run against the local stand-ins."""
    storage = azurite_connection_string(layout)
    env = {
        "AzureWebJobsStorage": storage,
        "DSR_STORAGE_CONNECTION": storage,
        "DSR_KEY_VAULT_URL": layout.vault_url,
        "DSR_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE": "false",
        "DSR_KEY_VAULT_CA_BUNDLE": str(layout.ca_bundle),
        "DSR_ALLOWED_ENDPOINT_ORIGINS": layout.cv_endpoint,
        "DSR_REQUEST_QUEUE": "dsr-requests",
        # The retention timer (triggers/retention_timer.py) binds to this setting; every 5 minutes locally.
        "DSR_RETENTION_SCHEDULE": "0 */5 * * * *",
        "IDENTITY_ENDPOINT": layout.identity_endpoint,
        "IDENTITY_HEADER": load_or_create_identity_header(layout.identity_header_file),
        # Only managed identity: a developer's Azure CLI login must never be tried (or sent) locally.
        "AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential",
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "DSR_LOCAL_DIR": str(layout.local_dir),
        "DEVSTACK_CV_ENDPOINT": layout.cv_endpoint,
        "DEVSTACK_DEMO_SECRET_NAME": DEMO_SECRET_NAME,
        "DEVSTACK_FUNCTIONS_URL": layout.functions_url,
    }
    env.update(host_keys(layout))
    env.update(layout.port_settings())
    return env
