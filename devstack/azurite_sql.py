"""Azurite with its blob metadata in MariaDB (``DSR_AZURITE_SQL=1``), for benchmarks at scale.

Azurite's own metadata store (LokiJS) finds a blob by filtering every blob of the account: its first
index is the account name, which all of them share. So each upload costs more the more the account
holds (``benchmarks/azurite_uploads.py``: 232-294 uploads/s into an empty account, 58-68/s at 12,000
blobs), which Azure Storage's does not, and an export of 100,000 images would measure Azurite. Azurite
can keep blob metadata in a SQL database instead (the ``AZURITE_DB`` variable), where lookups use the
database's indices and the rate stays flat (150-210/s up to 12,000 blobs on the same machine).

This process is what devstack runs as the ``azurite`` service in that mode: it creates a MariaDB data
directory on first use (Debian's ``mariadb-server``, installed by ``scripts/setup.sh``), starts
``mariadbd`` on loopback, creates the database and a user with a password generated for this stack,
then runs Azurite against it. Both are its children, in the service's session, so stopping the service
stops both; when either exits, the other is stopped too.

    python -m devstack.azurite_sql --data-dir DIR --port PORT -- AZURITE-COMMAND...
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from devstack.layout import LOOPBACK, DevstackError
from devstack.services import port_open

DATABASE = "azurite_blob"
USER = "azurite"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 8.0  # within devstack stop's default 10 s before SIGKILL
POLL_SECONDS = 0.1
SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes on Linux, the last one NUL


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise DevstackError(
            f"{name} is not installed: DSR_AZURITE_SQL=1 needs Debian's mariadb-server (./scripts/setup.sh)"
        )
    return found


def _password(data_dir: Path) -> str:
    """The stack's database password: generated once, readable by its owner only."""
    path = data_dir / "password"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24), encoding="ascii")
    return path.read_text(encoding="ascii").strip()


def _initialise(data_dir: Path, log: Path) -> None:
    """Create the data directory once (``mariadb-install-db``); later starts reuse it."""
    datadir = data_dir / "db"
    if (datadir / "mysql").is_dir():
        return
    with log.open("ab") as out:
        subprocess.run(
            [
                _binary("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *(["--user=root"] if os.geteuid() == 0 else []),
            ],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _socket(data_dir: Path) -> Path:
    path = data_dir / "sock"
    if len(str(path)) > SOCKET_PATH_MAX:
        raise DevstackError(
            f"MariaDB's socket path would be too long for Unix ({path}): use a shorter DSR_LOCAL_DIR"
        )
    return path


def _server_command(data_dir: Path, port: int) -> list[str]:
    return [
        _binary("mariadbd"),
        "--no-defaults",
        f"--datadir={data_dir / 'db'}",
        f"--socket={_socket(data_dir)}",
        f"--port={port}",
        f"--bind-address={LOOPBACK}",
        "--skip-log-bin",
        "--skip-name-resolve",
        # A local stand-in's metadata: speed over surviving a power cut.
        "--innodb-flush-log-at-trx-commit=0",
        *(["--user=root"] if os.geteuid() == 0 else []),
    ]


def _create_database(data_dir: Path, password: str) -> None:
    """Database and user, idempotently, as root over the server's socket (root has no password there)."""
    statements = (
        f"CREATE DATABASE IF NOT EXISTS {DATABASE};"
        f"CREATE USER IF NOT EXISTS '{USER}'@'{LOOPBACK}' IDENTIFIED BY '{password}';"
        f"ALTER USER '{USER}'@'{LOOPBACK}' IDENTIFIED BY '{password}';"
        f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'{LOOPBACK}';"
    )
    subprocess.run(
        [_binary("mariadb"), "--no-defaults", f"--socket={_socket(data_dir)}", "-uroot"],
        input=statements.encode(),
        check=True,
        capture_output=True,
    )


def _wait_for_port(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not port_open(port):
        if server.poll() is not None:
            raise DevstackError(f"mariadbd exited with {server.returncode} before it listened")
        if time.monotonic() > deadline:
            raise DevstackError(f"mariadbd did not listen on port {port} in {READY_TIMEOUT_SECONDS:.0f} s")
        time.sleep(POLL_SECONDS)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(data_dir: Path, port: int, azurite: list[str]) -> int:
    """Start MariaDB, then Azurite on it; return Azurite's exit code once either has stopped."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "mariadb.log"
    _initialise(data_dir, log)
    password = _password(data_dir)
    with log.open("ab") as out:
        server = subprocess.Popen(_server_command(data_dir, port), stdout=out, stderr=subprocess.STDOUT)
    children = [server]
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        _wait_for_port(port, server)
        _create_database(data_dir, password)
        url = f"mysql://{USER}:{password}@{LOOPBACK}:{port}/{DATABASE}"
        blobs = subprocess.Popen(azurite, env={**os.environ, "AZURITE_DB": url})
        children.insert(0, blobs)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(POLL_SECONDS)
        return blobs.returncode if blobs.returncode is not None else 0
    finally:
        for child in children:  # Azurite first: it must not outlive its database
            _stop(child)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.azurite_sql", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="MariaDB's directory (created on first use)"
    )
    parser.add_argument("--port", type=int, required=True, help="MariaDB's loopback port")
    parser.add_argument("azurite", nargs=argparse.REMAINDER, help="-- then Azurite's command")
    args = parser.parse_args(argv)
    command = args.azurite[1:] if args.azurite[:1] == ["--"] else args.azurite
    if not command:
        parser.error("Azurite's command is missing (after --)")
    try:
        return run(args.data_dir, args.port, command)
    except (DevstackError, subprocess.CalledProcessError) as exc:
        print(f"azurite_sql: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
