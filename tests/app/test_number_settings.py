"""Numeric settings are read strictly (finite, at or above their minimum) and reach what they tune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsr.config import load_settings
from dsr.customvision import DEFAULT_CALL_TIMEOUT_SECONDS, DEFAULT_MAX_RETRY_SECONDS
from dsr.errors import ConfigurationError, TransientError
from dsr.runtime import Runtime
from emulator import EmulatorServer, SeedSpec, build_state
from tests.functional.fakes import KeyOnlySecrets

ROOT = Path(__file__).resolve().parents[2]
BASE = {"DSR_STORAGE_CONNECTION": "UseDevelopmentStorage=true", "DSR_KEY_VAULT_URL": "https://vault.example"}
NUMBERS = [
    "DSR_CV_RATE_LIMIT_PER_SECOND",
    "DSR_CV_MAX_RETRY_SECONDS",
    "DSR_CV_TIMEOUT_SECONDS",
    "DSR_DELETE_VERIFY_TIMEOUT_SECONDS",
    "DSR_EXPORT_RETENTION_DAYS",
    "DSR_UNIT_TIME_BUDGET_SECONDS",
    "DSR_APPROVAL_TIMEOUT_HOURS",
    "DSR_REJECTED_RETENTION_DAYS",
    "DSR_HISTORY_PURGE_AFTER_HOURS",
    "DSR_DELIVERY_LINK_MINUTES",
]


@pytest.mark.parametrize("name", NUMBERS)
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "ten", "1e999"])
def test_a_number_setting_must_be_finite(name, value):
    # float() accepts all but "ten"; NaN compares false with every minimum and would pass a range check.
    with pytest.raises(ConfigurationError, match=name):
        load_settings(BASE | {name: value})


def test_the_custom_vision_call_timeout_is_thirty_seconds_unless_set():
    assert load_settings(BASE).call_timeout_seconds == 30.0
    assert load_settings(BASE | {"DSR_CV_TIMEOUT_SECONDS": "12.5"}).call_timeout_seconds == 12.5


@pytest.mark.parametrize("value", ["0", "0.5", "-3"])
def test_the_call_timeout_is_at_least_a_second(value):
    with pytest.raises(ConfigurationError, match="DSR_CV_TIMEOUT_SECONDS must be at least 1"):
        load_settings(BASE | {"DSR_CV_TIMEOUT_SECONDS": value})


@pytest.mark.parametrize(("timeout", "answered"), [("1", False), (None, True)])
def test_the_runtime_s_clients_give_up_on_a_silent_service_after_the_call_timeout(
    export_store, timeout, answered
):
    state = build_state(SeedSpec(projects_per_account=1, images_per_project=1), {"account-1": "k" * 32})
    state.account("account-1").controls.knobs.latency_seconds = 2.0
    with EmulatorServer(state) as server:
        env = BASE | {"DSR_ALLOWED_ENDPOINT_ORIGINS": server.base_url, "DSR_CV_MAX_RETRY_SECONDS": "0"}
        settings = load_settings(env if timeout is None else env | {"DSR_CV_TIMEOUT_SECONDS": timeout})
        runtime = Runtime(settings, KeyOnlySecrets("k" * 32), export_store)
        account = {"endpoint": server.base_url, "trainingKeySecret": "k", "secretVersion": "0" * 32}
        with runtime.unit_client(account) as (client, _):  # type: ignore[arg-type]
            if answered:
                assert len(client.get_projects()) == 1
            else:
                with pytest.raises(TransientError):
                    client.get_projects()


POSITIVE = [
    "DSR_APPROVAL_TIMEOUT_HOURS",
    "DSR_EXPORT_RETENTION_DAYS",
    "DSR_REJECTED_RETENTION_DAYS",
    "DSR_HISTORY_PURGE_AFTER_HOURS",
]
"""Periods that mean nothing at 0: a delete canceled before anyone could approve it, an export
deleted as it is written, a history purged before a retry could use it. infra/main.bicep gives the
three it sets whole values of at least 1; locally they take fractions, so a test can wait seconds."""


@pytest.mark.parametrize("name", POSITIVE)
@pytest.mark.parametrize("value", ["0", "0.0", "-0", "-1", "-0.5"])
def test_a_period_must_be_more_than_zero(name, value):
    # Before: 0 (and only it, of these) was accepted.
    with pytest.raises(ConfigurationError, match=f"{name} must be more than 0"):
        load_settings(BASE | {name: value})


@pytest.mark.parametrize(
    ("name", "value", "attribute"),
    [
        ("DSR_APPROVAL_TIMEOUT_HOURS", "0.0003", "approval_timeout_hours"),  # tests/e2e (1 s)
        ("DSR_EXPORT_RETENTION_DAYS", "0.0002", "export_retention_days"),  # tests/e2e/test_retention.py
        ("DSR_HISTORY_PURGE_AFTER_HOURS", "0.001", "history_purge_after_hours"),  # the same
        ("DSR_REJECTED_RETENTION_DAYS", "1", "rejected_retention_days"),  # tests/app/test_retention.py
        ("DSR_EXPORT_RETENTION_DAYS", "2", "export_retention_days"),
        ("DSR_UNIT_TIME_BUDGET_SECONDS", "2", "unit_time_budget_seconds"),  # docs/benchmarks.md
        ("DSR_UNIT_TIME_BUDGET_SECONDS", "0", "unit_time_budget_seconds"),  # one step a call, still
        ("DSR_DELETE_VERIFY_TIMEOUT_SECONDS", "0", "delete_verify_timeout_seconds"),  # tests/e2e
        ("DSR_CV_MAX_RETRY_SECONDS", "0", "max_retry_seconds"),  # tests/app
    ],
)
def test_the_values_the_test_suites_use_are_valid(name, value, attribute):
    assert getattr(load_settings(BASE | {name: value}), attribute) == float(value)


def _function_timeout_seconds() -> float:
    hours, minutes, seconds = json.loads((ROOT / "host.json").read_text())["functionTimeout"].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_the_unit_time_budget_leaves_a_last_call_room_inside_the_function_timeout():
    from dsr import config  # here: before the fix it had no maximum, and the other tests still ran

    # A unit checks its budget before each step, so its call can run the budget and then one more
    # step: a Training API call retried for up to its retry budget, then stalled for a timeout.
    assert _function_timeout_seconds() == config.FUNCTION_TIMEOUT_SECONDS
    last_step = DEFAULT_MAX_RETRY_SECONDS + DEFAULT_CALL_TIMEOUT_SECONDS
    assert config.MAX_UNIT_TIME_BUDGET_SECONDS + last_step < config.FUNCTION_TIMEOUT_SECONDS
    assert config.DEFAULT_UNIT_TIME_BUDGET_SECONDS <= config.MAX_UNIT_TIME_BUDGET_SECONDS
    ceiling = f"{config.MAX_UNIT_TIME_BUDGET_SECONDS:g}"
    assert load_settings(BASE | {"DSR_UNIT_TIME_BUDGET_SECONDS": ceiling}).unit_time_budget_seconds == float(
        ceiling
    )


@pytest.mark.parametrize("value", ["421", "600", "3600", "1e9"])
def test_the_unit_time_budget_stays_inside_the_function_timeout(value):
    # Before: any budget was accepted, and a call working past host.json's 10 minutes is killed by
    # the host mid-step (the journal then has to recover a step sent without an answer).
    with pytest.raises(ConfigurationError, match="DSR_UNIT_TIME_BUDGET_SECONDS must be at most 420"):
        load_settings(BASE | {"DSR_UNIT_TIME_BUDGET_SECONDS": value})
