"""devstack's Functions host keys: three distinct keys per local directory, private, stable, exported."""

from __future__ import annotations

from pathlib import Path

from devstack.environment import HOST_KEY_SETTINGS, host_keys, local_environment
from devstack.layout import StackLayout


def test_three_distinct_private_keys_created_once(tmp_path: Path) -> None:
    layout = StackLayout.from_env({"DSR_LOCAL_DIR": str(tmp_path)})
    keys = host_keys(layout)
    assert set(keys) == {"DEVHOST_FUNCTION_KEY", "DEVHOST_SYSTEM_KEY", "DEVHOST_MASTER_KEY"}
    assert len(set(keys.values())) == 3
    assert all(len(k) >= 40 for k in keys.values())
    for file in HOST_KEY_SETTINGS.values():
        assert (tmp_path / "keys" / file).stat().st_mode & 0o777 == 0o600
    assert host_keys(layout) == keys  # the same keys on every run for one local directory
    env = local_environment(layout)
    assert {name: env[name] for name in keys} == keys  # run.sh passes them to devhost through env


def test_another_local_directory_gets_other_keys(tmp_path: Path) -> None:
    first = host_keys(StackLayout.from_env({"DSR_LOCAL_DIR": str(tmp_path / "a")}))
    second = host_keys(StackLayout.from_env({"DSR_LOCAL_DIR": str(tmp_path / "b")}))
    assert set(first.values()).isdisjoint(second.values())
