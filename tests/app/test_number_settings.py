"""Numeric settings are read strictly (finite, at or above their minimum) and reach what they tune."""

from __future__ import annotations

import pytest

from dsr.config import load_settings
from dsr.errors import ConfigurationError, TransientError
from dsr.runtime import Runtime
from emulator import EmulatorServer, SeedSpec, build_state
from tests.functional.fakes import KeyOnlySecrets

BASE = {"DSR_STORAGE_CONNECTION": "UseDevelopmentStorage=true", "DSR_KEY_VAULT_URL": "https://vault.example"}
NUMBERS = [
    "DSR_CV_RATE_LIMIT_PER_SECOND",
    "DSR_CV_MAX_RETRY_SECONDS",
    "DSR_CV_TIMEOUT_SECONDS",
    "DSR_DELETE_VERIFY_TIMEOUT_SECONDS",
    "DSR_EXPORT_RETENTION_DAYS",
    "DSR_UNIT_TIME_BUDGET_SECONDS",
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
