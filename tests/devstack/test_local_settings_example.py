"""local.settings.example.json names every app setting and holds no secret."""

from __future__ import annotations

import json
import re
from pathlib import Path

from devstack.environment import local_environment
from devstack.layout import REPO_ROOT, StackLayout
from dsr.config import load_settings

EXAMPLE = REPO_ROOT / "local.settings.example.json"


def _values() -> dict[str, str]:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert "python -m devstack env" in doc["_comment"]
    values = doc["Values"]
    assert all(isinstance(v, str) for v in values.values())
    return dict(values)


def test_every_setting_the_app_reads_is_listed() -> None:
    source = (REPO_ROOT / "dsr" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'env\.get\("([A-Za-z_]+)"', source))
    assert read, "dsr/config.py reads no settings?"
    assert read <= set(_values())


def test_example_loads_as_settings() -> None:
    settings = load_settings(_values())
    assert settings.key_vault_verify_challenge_resource is False


def test_example_agrees_with_devstack_env_defaults(tmp_path: Path) -> None:
    env = local_environment(StackLayout.from_env({"DSR_LOCAL_DIR": str(tmp_path)}))
    values = _values()
    for name, value in values.items():
        if (
            name in env
            and not value.startswith("<")
            and name not in {"AzureWebJobsStorage", "DSR_STORAGE_CONNECTION"}
        ):
            assert env[name] == value, name


def test_no_secret_values() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "AccountKey=" not in text
    assert not re.search(r"[0-9a-f]{32}", text)
