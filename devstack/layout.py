"""Where the local stack lives and which ports it uses, read once from the environment.

Everything runtime-generated goes under one directory (default ``<repo>/.local``, override with
``DSR_LOCAL_DIR``): ``run/`` pid files, ``logs/`` service logs, ``data/<service>/`` state, ``demo/`` the
demo account's generated credentials. Tests point ``DSR_LOCAL_DIR`` and the port variables elsewhere so
they never touch the developer's running stack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
VAULT_HOST = "localhost"
"""The vault URL uses the certificate's DNS name; the stand-in itself listens on 127.0.0.1 only."""

PORT_SETTINGS = {
    "blob_port": ("DSR_AZURITE_BLOB_PORT", 10000),
    "queue_port": ("DSR_AZURITE_QUEUE_PORT", 10001),
    "table_port": ("DSR_AZURITE_TABLE_PORT", 10002),
    "azurite_sql_port": ("DSR_AZURITE_SQL_PORT", 10003),
    "keyvault_port": ("DSR_KEYVAULT_PORT", 8443),
    "token_port": ("DSR_KEYVAULT_TOKEN_PORT", 8080),
    "cv_port": ("DSR_CV_EMULATOR_PORT", 7080),
    "functions_port": ("DSR_FUNCTIONS_PORT", 7071),
    "functions_rpc_port": ("DSR_FUNCTIONS_RPC_PORT", 17071),
}
DEFAULT_START_TIMEOUT_SECONDS = 30.0
DEFAULT_STOP_TIMEOUT_SECONDS = 10.0
MAX_PORT = 65535


class DevstackError(Exception):
    """A devstack command cannot do what was asked; the message says why and what to do."""


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) <= MAX_PORT:
        raise DevstackError(f"{name} must be a TCP port number (1-{MAX_PORT}), got {raw!r}")
    return int(raw)


def _switch(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip()
    if raw not in ("", "0", "1"):
        raise DevstackError(f"{name} must be 1 or 0, got {raw!r}")
    return raw == "1"


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise DevstackError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if value <= 0:
        raise DevstackError(f"{name} must be positive")
    return value


@dataclass(frozen=True)
class StackLayout:
    """Directories and ports of one local stack."""

    repo_root: Path
    local_dir: Path
    blob_port: int = 10000
    queue_port: int = 10001
    table_port: int = 10002
    azurite_sql_port: int = 10003
    keyvault_port: int = 8443
    token_port: int = 8080
    cv_port: int = 7080
    functions_port: int = 7071
    functions_rpc_port: int = 17071
    start_timeout: float = DEFAULT_START_TIMEOUT_SECONDS
    stop_timeout: float = DEFAULT_STOP_TIMEOUT_SECONDS
    azurite_in_memory: bool = False
    """Azurite keeps nothing on disk (``DSR_AZURITE_IN_MEMORY=1``): the test stack, whose data is
    thrown away anyway. On disk, Azurite syncs every blob and rewrites its whole index as it grows,
    so a long test run or a benchmark slows down with what earlier runs stored."""
    azurite_sql: bool = False
    """Azurite keeps blob metadata in MariaDB on ``azurite_sql_port`` (``DSR_AZURITE_SQL=1``): the
    upload rate stays flat as the account fills, which benchmarks at 100k images need
    (:mod:`devstack.azurite_sql`)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, repo_root: Path = REPO_ROOT) -> StackLayout:
        """Read ``DSR_LOCAL_DIR``, the port variables and the timeouts (defaults otherwise)."""
        env = os.environ if environ is None else environ
        local = Path(env.get("DSR_LOCAL_DIR") or repo_root / ".local").resolve()
        ports = {field: _port(env, var, default) for field, (var, default) in PORT_SETTINGS.items()}
        in_memory, sql = _switch(env, "DSR_AZURITE_IN_MEMORY"), _switch(env, "DSR_AZURITE_SQL")
        if in_memory and sql:
            # Azurite refuses --inMemoryPersistence with a SQL metadata store.
            raise DevstackError("DSR_AZURITE_IN_MEMORY and DSR_AZURITE_SQL cannot both be 1")
        return cls(
            repo_root=repo_root,
            local_dir=local,
            start_timeout=_seconds(env, "DSR_DEVSTACK_START_TIMEOUT", DEFAULT_START_TIMEOUT_SECONDS),
            stop_timeout=_seconds(env, "DSR_DEVSTACK_STOP_TIMEOUT", DEFAULT_STOP_TIMEOUT_SECONDS),
            azurite_in_memory=in_memory,
            azurite_sql=sql,
            **ports,
        )

    @property
    def run_dir(self) -> Path:
        return self.local_dir / "run"

    @property
    def logs_dir(self) -> Path:
        return self.local_dir / "logs"

    @property
    def demo_dir(self) -> Path:
        return self.local_dir / "demo"

    def data_dir(self, service: str) -> Path:
        """State directory of one service."""
        return self.local_dir / "data" / service

    def pid_file(self, service: str) -> Path:
        return self.run_dir / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.logs_dir / f"{service}.log"

    @property
    def keyvault_dir(self) -> Path:
        return self.data_dir("keyvault")

    @property
    def ca_bundle(self) -> Path:
        """The stand-in CA certificate clients trust (created when the stand-in first starts)."""
        return self.keyvault_dir / "ca.pem"

    @property
    def identity_header_file(self) -> Path:
        return self.keyvault_dir / "identity-header"

    @property
    def vault_url(self) -> str:
        return f"https://{VAULT_HOST}:{self.keyvault_port}"

    @property
    def identity_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.token_port}/metadata/identity/oauth2/token"

    @property
    def cv_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.cv_port}"

    @property
    def functions_url(self) -> str:
        return f"http://{LOOPBACK}:{self.functions_port}"

    def port_settings(self) -> dict[str, str]:
        """The port variables with this layout's values (so child processes agree on them)."""
        return {var: str(getattr(self, field)) for field, (var, _) in PORT_SETTINGS.items()}
