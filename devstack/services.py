"""The services devstack runs: how to start each one and how to tell it is ready.

Order matters: storage and Key Vault first, the Custom Vision emulator next, the function app last (it
needs the others at import time).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import sys
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path

from devstack.environment import demo_training_key, emulator_admin_token
from devstack.layout import LOOPBACK, DevstackError, StackLayout

PROBE_TIMEOUT_SECONDS = 1.0
HTTP_OK = 200


def port_open(port: int, host: str = LOOPBACK, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    """True when ``url`` answers 200 (TLS verified against ``context`` for https)."""
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS, context=context) as response:  # noqa: S310
            return bool(response.status == HTTP_OK)
    except (OSError, urllib.error.URLError, ssl.SSLError):
        return False


class Service(ABC):
    """One local service: its command, extra environment, ports and readiness probe."""

    name: str
    description: str

    @abstractmethod
    def ports(self, layout: StackLayout) -> tuple[int, ...]:
        """TCP ports the service listens on."""

    @abstractmethod
    def command(self, layout: StackLayout) -> list[str]:
        """Argument vector; raises :class:`DevstackError` when the service cannot run here."""

    def extra_env(self, layout: StackLayout) -> dict[str, str]:
        """Variables only this service receives (on top of the local environment)."""
        return {}

    def ready(self, layout: StackLayout) -> bool:
        """One readiness probe (the manager retries until its timeout)."""
        return all(port_open(p) for p in self.ports(layout))


class Azurite(Service):
    name = "azurite"
    description = "Azure Storage emulator (Blob, Queue, Table)"

    def ports(self, layout: StackLayout) -> tuple[int, ...]:
        sql = (layout.azurite_sql_port,) if layout.azurite_sql else ()
        return (layout.blob_port, layout.queue_port, layout.table_port, *sql)

    def command(self, layout: StackLayout) -> list[str]:
        binary = layout.repo_root / "devstack" / "node" / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            raise DevstackError(f"Azurite is not installed ({binary} is missing): run ./scripts/setup.sh")
        if shutil.which("node") is None:
            raise DevstackError("node is not on PATH; Azurite needs Node.js")
        data = layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        # Azurite refuses --location beside --inMemoryPersistence.
        persistence = ["--inMemoryPersistence"] if layout.azurite_in_memory else ["--location", str(data)]
        wrapper = [
            sys.executable,
            "-m",
            "devstack.azurite_sql",
            "--data-dir",
            str(data / "mariadb"),
            "--port",
            str(layout.azurite_sql_port),
            "--",
        ]
        return [
            *(wrapper if layout.azurite_sql else []),
            str(binary),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            *persistence,
            "--blobHost",
            LOOPBACK,
            "--blobPort",
            str(layout.blob_port),
            "--queueHost",
            LOOPBACK,
            "--queuePort",
            str(layout.queue_port),
            "--tableHost",
            LOOPBACK,
            "--tablePort",
            str(layout.table_port),
        ]


class KeyVault(Service):
    name = "keyvault"
    description = "Key Vault stand-in (HTTPS) + managed-identity token endpoint (HTTP)"

    def ports(self, layout: StackLayout) -> tuple[int, ...]:
        return (layout.keyvault_port, layout.token_port)

    def command(self, layout: StackLayout) -> list[str]:
        return [
            sys.executable,
            "-m",
            "devstack.keyvault",
            "serve",
            "--data-dir",
            str(layout.keyvault_dir),
            "--host",
            LOOPBACK,
            "--port",
            str(layout.keyvault_port),
            "--token-port",
            str(layout.token_port),
            "--identity-header-file",
            str(layout.identity_header_file),
        ]

    def ready(self, layout: StackLayout) -> bool:
        try:
            context = ssl.create_default_context(cafile=str(layout.ca_bundle))
        except (OSError, ssl.SSLError):
            return False  # no CA yet (first start in progress) or an unreadable one
        return http_ok(f"{layout.vault_url}/ping", context) and http_ok(
            f"http://{LOOPBACK}:{layout.token_port}/ping"
        )


def _require_module(layout: StackLayout, package: str, what: str) -> None:
    main = layout.repo_root / package / "__main__.py"
    if not main.exists():
        raise DevstackError(
            f"{what} is not available yet: {main.relative_to(layout.repo_root)} does not exist "
            f"(the {package}/ package has no command line yet)"
        )


class CustomVision(Service):
    name = "customvision"
    description = "Custom Vision Training API emulator"

    def ports(self, layout: StackLayout) -> tuple[int, ...]:
        return (layout.cv_port,)

    def command(self, layout: StackLayout) -> list[str]:
        _require_module(layout, "emulator", "the Custom Vision emulator")
        return [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            str(layout.cv_port),
            "--preset",
            "demo",
            "--account-key-env",
            "CV_EMULATOR_DEMO_KEY",
            "--admin-token-env",
            "CV_EMULATOR_ADMIN_TOKEN",
        ]

    def extra_env(self, layout: StackLayout) -> dict[str, str]:
        return {
            "CV_EMULATOR_DEMO_KEY": demo_training_key(layout),
            "CV_EMULATOR_ADMIN_TOKEN": emulator_admin_token(layout),
        }


class Functions(Service):
    name = "functions"
    description = "local Functions host (devhost) serving function_app.py"

    def ports(self, layout: StackLayout) -> tuple[int, ...]:
        return (layout.functions_port, layout.functions_rpc_port)

    def ready(self, layout: StackLayout) -> bool:
        return port_open(layout.functions_port)

    def command(self, layout: StackLayout) -> list[str]:
        _require_module(layout, "devhost", "the local Functions host")
        app: Path = layout.repo_root / "function_app.py"
        if not app.exists():
            raise DevstackError(f"there is no function app to serve yet ({app} does not exist)")
        return [
            sys.executable,
            "-m",
            "devhost",
            "start",
            "--app-dir",
            str(layout.repo_root),
            "--port",
            str(layout.functions_port),
            "--rpc-port",
            str(layout.functions_rpc_port),
            "--state-dir",
            str(layout.data_dir(self.name)),
        ]


SERVICES: dict[str, Service] = {s.name: s for s in (Azurite(), KeyVault(), CustomVision(), Functions())}
DEFAULT_SERVICES = ("azurite", "keyvault", "customvision")


def resolve(names: list[str] | tuple[str, ...]) -> list[Service]:
    """Services by name, in start order; unknown names raise :class:`DevstackError`."""
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise DevstackError(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    return [s for name, s in SERVICES.items() if name in names]
