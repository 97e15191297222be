"""A flag setting is ``true`` or ``false`` (in any case), as docs/settings.md says; anything else stops
the app naming the setting, rather than being read as one or the other."""

from __future__ import annotations

import pytest

from dsr.config import load_settings
from dsr.errors import ConfigurationError

BASE = {"DSR_STORAGE_CONNECTION": "UseDevelopmentStorage=true", "DSR_KEY_VAULT_URL": "https://vault.example"}
FLAGS = {
    "DSR_APPROVAL_REQUIRED": "approval_required",
    "DSR_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE": "key_vault_verify_challenge_resource",
}


@pytest.mark.parametrize("name", sorted(FLAGS))
@pytest.mark.parametrize(
    ("value", "meant"), [("true", True), ("false", False), ("TRUE", True), ("False", False)]
)
def test_a_flag_is_true_or_false_in_any_case(name, value, meant):
    assert getattr(load_settings(BASE | {name: value}), FLAGS[name]) is meant


@pytest.mark.parametrize("name", sorted(FLAGS))
@pytest.mark.parametrize(
    "value", ["yes", "no", "on", "off", "1", "0", "y", "n", "t", "f", "enabled", " true"]
)
def test_any_other_value_of_a_flag_stops_the_app(name, value):
    # Before: yes/on/1 and no/off/0 were read as true and false.
    with pytest.raises(ConfigurationError, match=f"setting {name} must be true or false"):
        load_settings(BASE | {name: value})


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_an_unset_or_empty_flag_takes_its_default(name):
    assert getattr(load_settings(BASE | {name: ""}), FLAGS[name]) == getattr(load_settings(BASE), FLAGS[name])
