"""The service manager with real processes: idempotent start, readiness failures, stop by pid, env."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from devstack.environment import DEMO_SECRET_NAME, local_environment
from devstack.layout import REPO_ROOT, DevstackError, StackLayout
from devstack.manager import ServiceManager, pid_alive
from devstack.seed import seed_demo
from devstack.services import SERVICES, port_open
from dsr.config import load_settings

KEYVAULT = SERVICES["keyvault"]
CLI_TIMEOUT_SECONDS = 60


def _output(manager: ServiceManager) -> str:
    out = manager._out
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )


def test_start_is_idempotent_and_stop_uses_the_pid(manager: ServiceManager, layout: StackLayout) -> None:
    manager.start_one(KEYVAULT)
    record = manager.read_pid("keyvault")
    assert record is not None
    assert pid_alive(record.pid)
    assert KEYVAULT.ready(layout)

    manager.start_one(KEYVAULT)
    again = manager.read_pid("keyvault")
    assert again is not None
    assert again.pid == record.pid
    assert f"already running (pid {record.pid})" in _output(manager)

    manager.stop_one(KEYVAULT)
    assert not pid_alive(record.pid)
    assert not layout.pid_file("keyvault").exists()
    assert not KEYVAULT.ready(layout)
    manager.stop_one(KEYVAULT)
    assert _output(manager).rstrip().endswith("keyvault: not running")


def test_readiness_failure_prints_the_log_and_exits_nonzero(
    stack_env: dict[str, str], layout: StackLayout
) -> None:
    # A corrupt CA makes the stand-in refuse to start; the error must come with its log.
    layout.keyvault_dir.mkdir(parents=True)
    (layout.keyvault_dir / "ca.pem").write_text("not a certificate\n")
    (layout.keyvault_dir / "ca-key.pem").write_text("not a key\n")

    result = _cli(stack_env, "start", "keyvault")

    assert result.returncode != 0
    assert "keyvault exited with code" in result.stderr
    assert str(layout.log_file("keyvault")) in result.stderr
    assert "Traceback" in result.stderr  # the tail of the service's own log
    assert not layout.pid_file("keyvault").exists()


def test_stale_pid_file_is_replaced(manager: ServiceManager, layout: StackLayout) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=10)
    layout.run_dir.mkdir(parents=True)
    layout.pid_file("keyvault").write_text(f'{{"pid": {dead.pid}, "startedAt": "x"}}')

    manager.start_one(KEYVAULT)
    record = manager.read_pid("keyvault")
    assert record is not None
    assert record.pid != dead.pid
    assert record.alive()


def test_port_taken_by_a_stranger_is_reported(manager: ServiceManager, layout: StackLayout) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", layout.token_port))
        squatter.listen()
        with pytest.raises(DevstackError, match=f"port.*{layout.token_port}.*already in use"):
            manager.start_one(KEYVAULT)
    assert not layout.pid_file("keyvault").exists()


def test_stop_escalates_to_sigkill(manager: ServiceManager, layout: StackLayout) -> None:
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ],
        start_new_session=True,
    )
    try:
        time.sleep(0.3)  # let it install the handler
        manager._write_pid("customvision", stubborn.pid)
        fast = ServiceManager(
            StackLayout(repo_root=layout.repo_root, local_dir=layout.local_dir, stop_timeout=0.5),
            out=io.StringIO(),
        )
        fast.stop_one(SERVICES["customvision"])
        assert not pid_alive(stubborn.pid)
        assert "killed (did not exit on SIGTERM)" in _output(fast)
        assert not layout.pid_file("customvision").exists()
    finally:
        if stubborn.poll() is None:
            stubborn.kill()


def test_missing_packages_fail_with_a_clear_message(tmp_path: Path, layout: StackLayout) -> None:
    bare = ServiceManager(StackLayout(repo_root=tmp_path, local_dir=layout.local_dir), out=io.StringIO())
    with pytest.raises(
        DevstackError, match=r"Custom Vision emulator is not available yet.*emulator/__main__\.py"
    ):
        bare.start_one(SERVICES["customvision"])
    with pytest.raises(
        DevstackError, match=r"local Functions host is not available yet.*devhost/__main__\.py"
    ):
        bare.start_one(SERVICES["functions"])


def test_env_prints_loadable_settings(stack_env: dict[str, str], layout: StackLayout) -> None:
    result = _cli(stack_env, "env")
    assert result.returncode == 0, result.stderr
    exported: dict[str, str] = {}
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        assert words[0] == "export"
        name, _, value = words[1].partition("=")
        exported[name] = value

    settings = load_settings(exported)
    assert settings.key_vault_url == f"https://localhost:{layout.keyvault_port}"
    assert settings.key_vault_verify_challenge_resource is False
    assert settings.key_vault_ca_bundle == str(layout.ca_bundle)
    assert settings.allowed_endpoint_origins == (f"http://127.0.0.1:{layout.cv_port}",)
    assert f"BlobEndpoint=http://127.0.0.1:{layout.blob_port}/devstoreaccount1" in settings.storage_connection
    assert exported["AzureWebJobsStorage"] == settings.storage_connection
    assert (
        exported["IDENTITY_ENDPOINT"]
        == f"http://127.0.0.1:{layout.token_port}/metadata/identity/oauth2/token"
    )
    assert exported["IDENTITY_HEADER"] == layout.identity_header_file.read_text()
    assert exported["AZURE_FUNCTIONS_ENVIRONMENT"] == "Development"
    assert layout.identity_header_file.stat().st_mode & 0o777 == 0o600
    # The same identity header on every run for one local directory.
    assert _cli(stack_env, "env").stdout == result.stdout


def test_seed_demo_stores_the_key_and_survives_restart(manager: ServiceManager, layout: StackLayout) -> None:
    manager.start_one(KEYVAULT)
    first = seed_demo(layout)
    assert first.secret_name == DEMO_SECRET_NAME
    assert first.created_version
    ca_before = layout.ca_bundle.read_bytes()

    manager.stop_one(KEYVAULT)
    manager.start_one(KEYVAULT)
    again = seed_demo(layout)
    assert not again.created_version
    assert again.secret_version == first.secret_version
    assert layout.ca_bundle.read_bytes() == ca_before

    private = [
        layout.demo_dir / "training-key",
        layout.identity_header_file,
        layout.keyvault_dir / "ca-key.pem",
        layout.keyvault_dir / "server-key.pem",
        layout.keyvault_dir / "token-signing.key",
        layout.keyvault_dir / "secrets.json",
    ]
    for path in private:
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_seed_demo_cli_never_prints_the_key(stack_env: dict[str, str], manager: ServiceManager) -> None:
    manager.start_one(KEYVAULT)
    result = _cli(stack_env, "seed-demo")
    assert result.returncode == 0, result.stderr
    key = (manager.layout.demo_dir / "training-key").read_text()
    assert DEMO_SECRET_NAME in result.stdout
    assert manager.layout.cv_endpoint in result.stdout
    assert key not in result.stdout + result.stderr


@pytest.mark.slow
def test_azurite_serves_the_exported_connection_string(manager: ServiceManager, layout: StackLayout) -> None:
    manager.start_one(SERVICES["azurite"])
    env = local_environment(layout)
    with BlobServiceClient.from_connection_string(env["DSR_STORAGE_CONNECTION"]) as blobs:
        blobs.create_container("devstack-test")
        assert [c.name for c in blobs.list_containers()] == ["devstack-test"]
    assert (layout.data_dir("azurite")).is_dir()
    manager.stop_one(SERVICES["azurite"])
    assert not layout.pid_file("azurite").exists()


@contextmanager
def _azurite_with(stack_env: dict[str, str], switch: str) -> Iterator[StackLayout]:
    """Azurite started with ``switch`` set to 1, a blob written and read back through it; stopped on
    leaving."""
    layout = StackLayout.from_env({**stack_env, switch: "1"})
    manager = ServiceManager(layout, out=io.StringIO(), err=io.StringIO())
    try:
        manager.start_one(SERVICES["azurite"])
        env = local_environment(layout)
        with BlobServiceClient.from_connection_string(env["DSR_STORAGE_CONNECTION"]) as blobs:
            blobs.create_container("devstack-switch").upload_blob("b.txt", b"a blob")
            assert blobs.get_container_client("devstack-switch").download_blob("b.txt").readall() == (
                b"a blob"
            )
        yield layout
    finally:
        manager.stop_one(SERVICES["azurite"])


def test_in_memory_azurite_keeps_nothing_on_disk(stack_env: dict[str, str]) -> None:
    with _azurite_with(stack_env, "DSR_AZURITE_IN_MEMORY") as layout:
        assert not list(layout.data_dir("azurite").iterdir())


@pytest.mark.slow
def test_azurite_over_sql_keeps_blob_metadata_in_mariadb_and_stops_with_it(stack_env: dict[str, str]) -> None:
    with _azurite_with(stack_env, "DSR_AZURITE_SQL") as layout:
        database = layout.data_dir("azurite") / "mariadb"
        assert (database / "db" / "azurite_blob" / "Blobs.ibd").is_file()  # Azurite's blob table
        assert (database / "password").stat().st_mode & 0o077 == 0
        assert port_open(layout.azurite_sql_port)
    assert not port_open(layout.azurite_sql_port)  # MariaDB stopped with the service
    assert not port_open(layout.blob_port)


def test_azurite_cannot_be_both_in_memory_and_over_sql(stack_env: dict[str, str]) -> None:
    with pytest.raises(DevstackError, match="cannot both be 1"):
        StackLayout.from_env({**stack_env, "DSR_AZURITE_IN_MEMORY": "1", "DSR_AZURITE_SQL": "1"})


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_the_in_memory_switch_takes_1_or_0_only(stack_env: dict[str, str], value: str) -> None:
    with pytest.raises(DevstackError, match="DSR_AZURITE_IN_MEMORY"):
        StackLayout.from_env({**stack_env, "DSR_AZURITE_IN_MEMORY": value})
