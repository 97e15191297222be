"""The local configuration: app settings pointing at the stand-ins, and the generated local credentials.

``python -m devstack env`` prints it; ``start`` passes it to every service (the function app needs it).
Generated values (identity header, demo training key, emulator admin token) are random per local
directory, stored with mode 0600 and never printed except the identity header in ``env`` output, which
only the local token endpoint accepts.
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
    env.update(layout.port_settings())
    return env
