"""docs/settings.md against dsr/config.py: the same settings, and the defaults and bounds it states are
the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsr.config import load_settings
from dsr.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `(DSR_[A-Z_]+)` \| (.+?) \| .+ \|$", re.MULTILINE)
SINGLE_VALUE = re.compile(r"^`([^`]+)`$")
BASE = {"DSR_STORAGE_CONNECTION": "UseDevelopmentStorage=true", "DSR_KEY_VAULT_URL": "https://vault.example"}


def _documented() -> dict[str, str]:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    return dict(ROW.findall(text))


def test_every_setting_the_code_reads_is_documented_and_nothing_else():
    code = set(re.findall(r'"(DSR_[A-Z_]+)"', (ROOT / "dsr" / "config.py").read_text(encoding="utf-8")))
    assert set(_documented()) == code


STATED = {name: match[1] for name, cell in _documented().items() if (match := SINGLE_VALUE.match(cell))}


def test_the_reference_states_defaults():
    assert "DSR_CV_RATE_LIMIT_PER_SECOND" in STATED  # the pattern finds the single-value defaults


@pytest.mark.parametrize(("name", "value"), sorted(STATED.items()))
def test_a_stated_default_is_what_the_code_uses_when_unset(name, value):
    assert load_settings(BASE | {name: value}) == load_settings(BASE)


DESCRIBED = re.compile(r"^\| `(DSR_[A-Z_]+)` \| .+? \| (.+) \|$", re.MULTILINE)
BOUND = re.compile(r"\b(at least|more than|at most) ([0-9][0-9,]*(?:\.[0-9]+)?)\b")


def _bounds() -> dict[str, dict[str, float]]:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    return {
        name: {kind: float(value.replace(",", "")) for kind, value in BOUND.findall(cell)}
        for name, cell in DESCRIBED.findall(text)
    }


NUMBERS = sorted(name for name, value in STATED.items() if re.fullmatch(r"[0-9.]+", value))


def _accepted(name: str, value: float) -> bool:
    try:
        load_settings(BASE | {name: repr(value)})
    except ConfigurationError:
        return False
    return True


def test_the_reference_states_bounds():
    bounds = _bounds()
    assert bounds["DSR_CV_TIMEOUT_SECONDS"] == {"at least": 1.0}  # the pattern finds them
    assert bounds["DSR_DELIVERY_LINK_MINUTES"] == {"at least": 1.0, "at most": 10080.0}
    assert {"DSR_CV_RATE_LIMIT_PER_SECOND", "DSR_UNIT_TIME_BUDGET_SECONDS"} <= set(NUMBERS)


@pytest.mark.parametrize("name", NUMBERS)
def test_a_number_s_stated_bounds_are_the_code_s(name):
    # Before: the code took 0 for the periods infra/ gives at least 1, and any unit time budget,
    # though this reference said it stays inside the function timeout.
    bounds = _bounds()[name]
    low = bounds.get("at least", 0.0)  # a number with no stated bound is at least 0
    if "more than" in bounds:
        low = bounds["more than"]
        assert not _accepted(name, low)
        assert _accepted(name, low + 1e-6)
    else:
        assert _accepted(name, low)
        assert not _accepted(name, low - max(abs(low), 1.0) * 1e-3)
    if "at most" in bounds:
        assert _accepted(name, bounds["at most"])
        assert not _accepted(name, bounds["at most"] + 1)
