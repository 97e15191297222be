"""``scripts/run.sh``: the whole local stack under devstack, a clear answer when it already runs, and a
``stop`` that leaves no process behind."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from devstack.layout import StackLayout
from devstack.services import SERVICES, port_open

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def run_sh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts" / "run.sh"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def local_settings(env: dict[str, str]) -> dict[str, str]:
    """What ``devstack env`` prints for this stack (the app's URL, its function key if it has one)."""
    out = subprocess.run(
        [sys.executable, "-m", "devstack", "env"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        name: shlex.split(value)[0] if value else ""
        for name, _, value in (line.removeprefix("export ").partition("=") for line in out.splitlines())
    }


def processes_of(local_dir: Path) -> list[str]:
    """Live processes started for this local directory (devstack passes DSR_LOCAL_DIR to every service)."""
    marker = f"DSR_LOCAL_DIR={local_dir}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in environ and state != "Z":
            found.append(f"{proc.name}: {command[:120]}")
    return found


def test_run_starts_everything_says_when_it_already_runs_and_stop_leaves_nothing(stack_env):
    layout = StackLayout.from_env(stack_env)
    try:
        first = run_sh(stack_env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "Local stack is up" in first.stdout
        for name in SERVICES:
            assert layout.pid_file(name).exists(), name
        assert layout.log_file("functions").exists()  # the host logs under logs/, like every service
        # Host state where docs/local-stack.md says, not in the repository's .local/devhost.
        assert (layout.data_dir("functions") / "devhost.sqlite3").exists()
        key = local_settings(stack_env).get("DEVHOST_FUNCTION_KEY")
        headers = {"x-functions-key": key} if key else {}
        description = requests.get(f"{layout.functions_url}/api/openapi.json", headers=headers, timeout=10)
        assert description.status_code == 200  # the app answers

        second = run_sh(stack_env)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert "address already in use" not in second.stdout + second.stderr
        assert processes_of(layout.local_dir)
    finally:
        stopped = run_sh(stack_env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert processes_of(layout.local_dir) == []
    ports = [p for service in SERVICES.values() for p in service.ports(layout)]
    assert not [p for p in ports if port_open(p)]
    assert not list(layout.run_dir.glob("*.pid"))
