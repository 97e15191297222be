"""The process-wide wiring: settings, Key Vault, Blob Storage, and per account one Custom Vision client
and one share of the account's rate budget.

Built once per worker process (activities share it) and injectable in tests. Clients are cached per
(endpoint, secret name, secret version): a rotated key has a new version, so it gets a new client.
Every client of one Custom Vision resource waits on the same :class:`~dsr.ratebudget.AccountBudget`
bucket, whose rate is this process's share of the account's calls/s (see :mod:`dsr.ratebudget`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from dsr.config import Settings, get_settings
from dsr.customvision import CallTally, ClientOptions, EndpointAllowList, TrainingClient, to_thread_observers
from dsr.ratebudget import AccountBudget, BlobBoard, ClaimBoard, account_key
from dsr.record_store import RecordStore
from dsr.secrets import SecretStore, build_secret_store
from dsr.storage import BlobExportStore, ExportStore, container_client
from dsr.units import ResolvedAccount

DOWNLOAD_CONCURRENCY = 16
"""Image and model downloads in flight per process, over all units (blob fetches are not rate-limited,
and at ~50-100 ms per blob this many keep copying at the pace of listing)."""


STORE_POOL_SIZE = DOWNLOAD_CONCURRENCY + 16
"""Blob Storage connections: every download thread writes what it copies, besides the units' own writes."""


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
    board: ClaimBoard | None = None
    """Where this process meets the others working for the same accounts; None: it is alone."""
    member: str = field(default_factory=lambda: uuid.uuid4().hex)
    _clients: dict[tuple[str, str, str], tuple[TrainingClient, AccountBudget]] = field(default_factory=dict)
    _budgets: dict[str, AccountBudget] = field(default_factory=dict)
    _downloads: ThreadPoolExecutor | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @cached_property
    def records(self) -> RecordStore:
        """The records container (receipts, status documents), built on first use."""
        return RecordStore.from_connection(self.settings.records_connection, self.settings.records_container)

    @property
    def allow_list(self) -> EndpointAllowList:
        return endpoint_allow_list(self.settings)

    @property
    def downloads(self) -> ThreadPoolExecutor:
        """The process's download threads, shared by every unit so concurrency stays bounded."""
        with self._lock:
            if self._downloads is None:
                self._downloads = ThreadPoolExecutor(DOWNLOAD_CONCURRENCY, thread_name_prefix="dsr-download")
            return self._downloads

    def _budget(self, endpoint: str, key: str) -> AccountBudget:
        name = account_key(endpoint, key)
        budget = self._budgets.get(name)
        if budget is None:
            budget = AccountBudget(name, self.member, self.settings.rate_limit_per_second, self.board)
            self._budgets[name] = budget
        return budget

    def _entry(self, account: ResolvedAccount) -> tuple[TrainingClient, AccountBudget]:
        cache_key = (account["endpoint"], account["trainingKeySecret"], account["secretVersion"])
        with self._lock:
            entry = self._clients.get(cache_key)
            if entry is None:
                key = self.secrets.get_secret(account["trainingKeySecret"], account["secretVersion"])
                # One budget per Custom Vision resource: regional endpoints serve many resources, so the
                # key, not the endpoint alone, tells them apart.
                budget = self._budget(account["endpoint"], key)
                client = TrainingClient(
                    account["endpoint"],
                    key,
                    options=ClientOptions(
                        max_retry_seconds=self.settings.max_retry_seconds,
                        timeout_seconds=self.settings.call_timeout_seconds,
                        download_concurrency=DOWNLOAD_CONCURRENCY,
                    ),
                    allow_list=self.allow_list,
                    limiter=budget.bucket,
                )
                entry = self._clients[cache_key] = (client, budget)
            return entry

    def use_client(self, account: ResolvedAccount, client: TrainingClient) -> None:
        """Serve ``account`` with ``client`` from now on (tests: a client that fails on cue). Its
        budget is keyed by the secret name, since the key stays inside the client."""
        cache_key = (account["endpoint"], account["trainingKeySecret"], account["secretVersion"])
        with self._lock:
            budget = self._budget(account["endpoint"], account["trainingKeySecret"])
            self._clients[cache_key] = (client, budget)

    def client_for(self, account: ResolvedAccount) -> TrainingClient:
        """The shared client for an account; the key is read from Key Vault on first use only."""
        return self._entry(account)[0]

    def budget_for(self, account: ResolvedAccount) -> AccountBudget:
        """This process's side of the account's rate budget."""
        return self._entry(account)[1]

    @contextmanager
    def unit_client(self, account: ResolvedAccount) -> Iterator[tuple[TrainingClient, CallTally]]:
        """A client for one unit of work, counted as running against the account's budget meanwhile;
        the tally counts that unit's calls and throttled answers, and :func:`observe_calls` blocks on
        the unit's thread see them too (a delete unit lists them in its receipt)."""
        calls_per_second = account.get("callsPerSecond") or self.settings.rate_limit_per_second
        tally = CallTally()
        client, budget = self._entry(account)
        with budget.running(calls_per_second):
            yield client.view((tally, to_thread_observers)), tally


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    """The runtime of this worker process, built from app settings on first use."""
    settings = get_settings()
    return Runtime(
        settings=settings,
        secrets=build_secret_store(settings),
        store=BlobExportStore.from_connection(
            settings.storage_connection, settings.export_container, pool_size=STORE_POOL_SIZE
        ),
        board=BlobBoard(container_client(settings.storage_connection, settings.export_container)),
    )
