"""The process-wide wiring: settings, Key Vault, Blob Storage and one Custom Vision client per account.

Built once per worker process (activities share it) and injectable in tests. Clients are cached per
(endpoint, secret name, secret version): a rotated key has a new version, so it gets a new client,
and the per-account rate limit is shared by every activity running in this process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from dsr.config import Settings, get_settings
from dsr.customvision import ClientOptions, EndpointAllowList, TrainingClient
from dsr.record_store import RecordStore
from dsr.secrets import SecretStore, build_secret_store
from dsr.storage import BlobExportStore, ExportStore
from dsr.units import ResolvedAccount


def endpoint_allow_list(settings: Settings) -> EndpointAllowList:
    """The Custom Vision endpoints a training key may be sent to, as configured."""
    return EndpointAllowList(
        suffixes=settings.allowed_endpoint_suffixes, extra_origins=settings.allowed_endpoint_origins
    )


@dataclass
class Runtime:
    settings: Settings
    secrets: SecretStore
    store: ExportStore
    _clients: dict[tuple[str, str, str], TrainingClient] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @cached_property
    def records(self) -> RecordStore:
        """The records container (receipts, status documents), built on first use."""
        return RecordStore.from_connection(self.settings.records_connection, self.settings.records_container)

    @property
    def allow_list(self) -> EndpointAllowList:
        return endpoint_allow_list(self.settings)

    def client_for(self, account: ResolvedAccount) -> TrainingClient:
        """The shared client for an account; the key is read from Key Vault on first use only."""
        cache_key = (account["endpoint"], account["trainingKeySecret"], account["secretVersion"])
        with self._lock:
            client = self._clients.get(cache_key)
            if client is None:
                key = self.secrets.get_secret(account["trainingKeySecret"], account["secretVersion"])
                client = TrainingClient(
                    account["endpoint"],
                    key,
                    options=ClientOptions(
                        rate_limit_per_second=self.settings.rate_limit_per_second,
                        max_retry_seconds=self.settings.max_retry_seconds,
                    ),
                    allow_list=self.allow_list,
                )
                self._clients[cache_key] = client
            return client


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    """The runtime of this worker process, built from app settings on first use."""
    settings = get_settings()
    return Runtime(
        settings=settings,
        secrets=build_secret_store(settings),
        store=BlobExportStore.from_connection(settings.storage_connection, settings.export_container),
    )
