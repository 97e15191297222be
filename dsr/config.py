"""Application settings, read once from the environment (Functions app settings / local.settings.json).

Every setting the deployed app reads is named here and nowhere else. Defaults are the production-safe
choice; local configuration (devstack) relaxes only what a loopback stand-in needs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from dsr.customvision import (
    DEFAULT_CALL_TIMEOUT_SECONDS,
    DEFAULT_ENDPOINT_SUFFIXES,
    DEFAULT_MAX_RETRY_SECONDS,
    DEFAULT_RATE_LIMIT_PER_SECOND,
    MIN_RATE_LIMIT_PER_SECOND,
)
from dsr.errors import ConfigurationError

DEFAULT_EXPORT_CONTAINER = "dsr-exports"
REQUEST_QUEUE_SETTING = "DSR_REQUEST_QUEUE"
"""App setting naming the intake queue (``dsr-requests``); the trigger binds to ``%DSR_REQUEST_QUEUE%``."""
DEFAULT_APPROVAL_TIMEOUT_HOURS = 72
DEFAULT_DELETE_VERIFY_TIMEOUT_SECONDS = 300.0
DEFAULT_RECORDS_CONTAINER = "dsr-records"
DEFAULT_EXPORT_RETENTION_DAYS = 30.0
"""Exports (with their zip, if any) and subject payloads; infra/ sets the lifecycle policy from the same
value (``exportRetentionDays``), so the local purge and Azure's lifecycle engine agree."""
DEFAULT_REJECTED_RETENTION_DAYS = 7.0
"""Rejected queue items (``intake/rejected/``): long enough to investigate a bad batch, no longer."""
DEFAULT_HISTORY_PURGE_AFTER_HOURS = 24.0
"""Durable history of a finished request is purged this long after it ended; status.json stays."""
RETENTION_SCHEDULE_SETTING = "DSR_RETENTION_SCHEDULE"
"""App setting holding the retention timer's NCRONTAB schedule (the trigger binds its ``%name%``)."""
FUNCTION_TIMEOUT_SECONDS = 600.0
"""host.json's ``functionTimeout`` (10 min): the host stops an invocation that runs longer."""
DEFAULT_UNIT_TIME_BUDGET_SECONDS = 240.0
"""How long one delete activity call works before it hands back a cursor: far enough below host.json's
``functionTimeout`` (10 min) that one last call (at most the client's retry budget) still fits."""
MAX_UNIT_TIME_BUDGET_SECONDS = 420.0
"""The longest budget that still fits: a unit checks it before each step, so a call can run the budget
and then one more step, a Training API call retried for up to ``DSR_CV_MAX_RETRY_SECONDS`` (120 s by
default) and then stalled for ``DSR_CV_TIMEOUT_SECONDS`` (30): 420 + 150 leaves 30 s of the 600 for
the journal and receipt writes around it."""
DEFAULT_DELIVERY_LINK_MINUTES = 60.0
"""A zip's read-only link is short-lived: long enough to download, not to be passed around."""
MAX_DELIVERY_LINK_MINUTES = 7 * 24 * 60.0  # a user delegation key is valid for at most 7 days


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    """Setting ``name`` as a boolean, ``true`` or ``false`` in any case; unset or empty: ``default``.

    Nothing else (yes, on, 1): a value that means something else to whoever set it stops the app.
    """
    value = env.get(name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ConfigurationError(f"setting {name} must be true or false")


def _number(
    env: Mapping[str, str],
    name: str,
    *,
    default: float,
    minimum: float = 0.0,
    positive: bool = False,
    maximum: float = math.inf,
) -> float:
    """Setting ``name`` as a number of at least ``minimum`` (more than 0 if ``positive``) and at most
    ``maximum``; unset or empty: ``default``."""
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError as exc:
        raise ConfigurationError(f"setting {name} must be a number") from exc
    if not math.isfinite(number):  # float() reads "nan" and "inf"; NaN passes every range check
        raise ConfigurationError(f"setting {name} must be a finite number")
    if positive and number <= 0:
        raise ConfigurationError(f"setting {name} must be more than 0")
    if number < minimum:
        raise ConfigurationError(f"setting {name} must be at least {minimum:g}")
    if number > maximum:
        raise ConfigurationError(f"setting {name} must be at most {maximum:g}")
    return number


def _csv(value: str | None, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    if value is None or value.strip() == "":
        return default
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Resolved application settings. Build with :func:`load_settings`."""

    storage_connection: str
    """Azure Storage connection string, or a blob account URL (https://...) used with managed identity."""
    key_vault_url: str
    export_container: str = DEFAULT_EXPORT_CONTAINER
    key_vault_verify_challenge_resource: bool = True
    """Only a local Key Vault stand-in (not *.vault.azure.net) needs this off."""
    key_vault_ca_bundle: str | None = None
    """Extra CA bundle to trust for Key Vault TLS (local stand-in certificate); None = system store."""
    allowed_endpoint_suffixes: tuple[str, ...] = DEFAULT_ENDPOINT_SUFFIXES
    allowed_endpoint_origins: tuple[str, ...] = field(default_factory=tuple)
    """Exact extra origins (scheme://host:port) allowed besides the suffixes; local emulator only."""
    callback_allowed_suffixes: tuple[str, ...] = ()
    """Host suffixes a ``callbackUrl`` may point to (https only); empty: callbacks are refused."""
    callback_allowed_origins: tuple[str, ...] = ()
    """Exact extra callback origins (scheme://host:port); local testing only."""
    rate_limit_per_second: float = DEFAULT_RATE_LIMIT_PER_SECOND
    max_retry_seconds: float = DEFAULT_MAX_RETRY_SECONDS
    call_timeout_seconds: float = DEFAULT_CALL_TIMEOUT_SECONDS
    approval_required: bool = False
    approval_timeout_hours: float = DEFAULT_APPROVAL_TIMEOUT_HOURS
    app_service_authentication: bool = False
    delete_verify_timeout_seconds: float = DEFAULT_DELETE_VERIFY_TIMEOUT_SECONDS
    records_connection: str = ""
    """Account of the records container (status documents, receipts, request records; WORM in Azure);
    empty: ``storage_connection``."""
    records_container: str = DEFAULT_RECORDS_CONTAINER
    export_retention_days: float = DEFAULT_EXPORT_RETENTION_DAYS
    """Fractions are allowed so local tests can expire an export in seconds; Azure takes whole days."""
    rejected_retention_days: float = DEFAULT_REJECTED_RETENTION_DAYS
    history_purge_after_hours: float = DEFAULT_HISTORY_PURGE_AFTER_HOURS
    unit_time_budget_seconds: float = DEFAULT_UNIT_TIME_BUDGET_SECONDS
    delivery_link_minutes: float = DEFAULT_DELIVERY_LINK_MINUTES
    """How long the read-only link to an export's zip stays valid."""


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment); raise on bad values."""
    env = os.environ if environ is None else environ
    storage = env.get("DSR_STORAGE_CONNECTION") or env.get("AzureWebJobsStorage") or ""
    if not storage:
        raise ConfigurationError("setting DSR_STORAGE_CONNECTION (or AzureWebJobsStorage) is required")
    vault = env.get("DSR_KEY_VAULT_URL", "")
    if not vault.startswith("https://"):
        raise ConfigurationError("setting DSR_KEY_VAULT_URL must be an https:// URL")
    return Settings(
        storage_connection=storage,
        key_vault_url=vault,
        export_container=env.get("DSR_EXPORT_CONTAINER") or DEFAULT_EXPORT_CONTAINER,
        key_vault_verify_challenge_resource=_flag(
            env, "DSR_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", default=True
        ),
        key_vault_ca_bundle=env.get("DSR_KEY_VAULT_CA_BUNDLE") or None,
        allowed_endpoint_suffixes=_csv(env.get("DSR_ALLOWED_ENDPOINT_SUFFIXES"), DEFAULT_ENDPOINT_SUFFIXES),
        allowed_endpoint_origins=_csv(env.get("DSR_ALLOWED_ENDPOINT_ORIGINS")),
        callback_allowed_suffixes=_csv(env.get("DSR_CALLBACK_ALLOWED_HOSTS")),
        callback_allowed_origins=_csv(env.get("DSR_CALLBACK_ALLOWED_ORIGINS")),
        rate_limit_per_second=_number(
            env,
            "DSR_CV_RATE_LIMIT_PER_SECOND",
            default=DEFAULT_RATE_LIMIT_PER_SECOND,
            minimum=MIN_RATE_LIMIT_PER_SECOND,
        ),
        max_retry_seconds=_number(env, "DSR_CV_MAX_RETRY_SECONDS", default=DEFAULT_MAX_RETRY_SECONDS),
        call_timeout_seconds=_number(
            env, "DSR_CV_TIMEOUT_SECONDS", default=DEFAULT_CALL_TIMEOUT_SECONDS, minimum=1.0
        ),
        approval_required=_flag(env, "DSR_APPROVAL_REQUIRED", default=False),
        # Set by App Service ("True") when its authentication fronts the app; only then are the
        # x-ms-client-principal-* headers the platform's (it strips any a caller sends).
        app_service_authentication=env.get("WEBSITE_AUTH_ENABLED", "").lower() == "true",
        approval_timeout_hours=_number(
            env, "DSR_APPROVAL_TIMEOUT_HOURS", default=DEFAULT_APPROVAL_TIMEOUT_HOURS, positive=True
        ),
        delete_verify_timeout_seconds=_number(
            env, "DSR_DELETE_VERIFY_TIMEOUT_SECONDS", default=DEFAULT_DELETE_VERIFY_TIMEOUT_SECONDS
        ),
        records_connection=env.get("DSR_RECORDS_CONNECTION") or storage,
        records_container=env.get("DSR_RECORDS_CONTAINER") or DEFAULT_RECORDS_CONTAINER,
        # Periods that mean nothing at 0 (an export deleted as it is written, a history purged before
        # a retry could use it). infra/ gives them whole days or hours from 1; fractions are for tests.
        export_retention_days=_number(
            env, "DSR_EXPORT_RETENTION_DAYS", default=DEFAULT_EXPORT_RETENTION_DAYS, positive=True
        ),
        rejected_retention_days=_number(
            env, "DSR_REJECTED_RETENTION_DAYS", default=DEFAULT_REJECTED_RETENTION_DAYS, positive=True
        ),
        history_purge_after_hours=_number(
            env, "DSR_HISTORY_PURGE_AFTER_HOURS", default=DEFAULT_HISTORY_PURGE_AFTER_HOURS, positive=True
        ),
        unit_time_budget_seconds=_number(
            env,
            "DSR_UNIT_TIME_BUDGET_SECONDS",
            default=DEFAULT_UNIT_TIME_BUDGET_SECONDS,
            maximum=MAX_UNIT_TIME_BUDGET_SECONDS,
        ),
        delivery_link_minutes=_delivery_minutes(env),
    )


def _delivery_minutes(env: Mapping[str, str]) -> float:
    return _number(
        env,
        "DSR_DELIVERY_LINK_MINUTES",
        default=DEFAULT_DELIVERY_LINK_MINUTES,
        minimum=1.0,
        maximum=MAX_DELIVERY_LINK_MINUTES,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (tests call ``get_settings.cache_clear()``)."""
    return load_settings()
