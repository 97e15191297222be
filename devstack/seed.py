"""``seed-demo``: put the demo account's training key into the Key Vault stand-in, create the request queue.

The key is written with azure-keyvault-secrets and ``DefaultAzureCredential`` resolving to managed identity
through the stand-in's token endpoint, and read back through the app's own adapter
(:class:`dsr.secrets.KeyVaultSecretStore`) - the same path the deployed app takes. The key is never printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient
from azure.storage.queue import QueueClient

from devstack.environment import DEMO_SECRET_NAME, demo_training_key, local_environment
from devstack.layout import DevstackError, StackLayout
from devstack.services import Azurite, KeyVault
from dsr.secrets import KeyVaultSecretStore


@dataclass(frozen=True)
class DemoAccount:
    """What a developer needs to send a request for the demo account (no key)."""

    endpoint: str
    secret_name: str
    secret_version: str
    created_version: bool


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    # azure-identity reads IDENTITY_ENDPOINT / IDENTITY_HEADER from the process environment.
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def create_request_queue(layout: StackLayout) -> bool:
    """Create the app's request queue in Azurite; True if it was new.

    The Functions host never creates a trigger's queue (it polls a missing one as empty), so the
    local stack does, as a deployment does (infra/).
    """
    if not Azurite().ready(layout):
        raise DevstackError("Azurite is not running: run `python -m devstack start azurite`")
    env = local_environment(layout)
    with QueueClient.from_connection_string(env["AzureWebJobsStorage"], env["DSR_REQUEST_QUEUE"]) as queue:
        try:
            queue.create_queue()
        except ResourceExistsError:
            return False
    return True


def seed_demo(layout: StackLayout) -> DemoAccount:
    """Store the demo training key as secret ``cv-demo-training-key`` (a new version only if it changed)."""
    if not KeyVault().ready(layout):
        raise DevstackError("the Key Vault stand-in is not running: run `python -m devstack start keyvault`")
    key = demo_training_key(layout)
    env = local_environment(layout)
    with _environment(env):
        credential = DefaultAzureCredential()
        client = SecretClient(
            layout.vault_url,
            credential,
            verify_challenge_resource=False,
            connection_verify=str(layout.ca_bundle),
        )
        with client:
            try:
                current = client.get_secret(DEMO_SECRET_NAME).value
            except ResourceNotFoundError:
                current = None
            created = current != key
            if created:
                client.set_secret(
                    DEMO_SECRET_NAME, key, content_type="text/plain", tags={"purpose": "devstack-demo"}
                )
        store = KeyVaultSecretStore(
            layout.vault_url,
            credential,
            verify_challenge_resource=False,
            connection_verify=str(layout.ca_bundle),
        )
        version = store.resolve_version(DEMO_SECRET_NAME)
        store.close()
        credential.close()
    return DemoAccount(
        endpoint=layout.cv_endpoint,
        secret_name=DEMO_SECRET_NAME,
        secret_version=version,
        created_version=created,
    )
