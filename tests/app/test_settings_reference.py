"""docs/settings.md against dsr/config.py: the same settings, and the defaults it states are the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsr.config import load_settings

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
