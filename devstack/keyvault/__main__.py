"""Command line of the Key Vault stand-in: ``python -m devstack.keyvault serve ...``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from devstack.keyvault.certs import ensure_certificates
from devstack.keyvault.server import (
    DEFAULT_TENANT_ID,
    KeyVaultStandIn,
    load_or_create_identity_header,
    server_ssl_context,
)
from devstack.keyvault.tokens import (
    DEFAULT_TOKEN_LIFETIME_SECONDS,
    TokenAuthority,
    load_or_create_signing_key,
)
from devstack.keyvault.vault import Vault

DEFAULT_HOST = "127.0.0.1"
DEFAULT_VAULT_PORT = 8443
DEFAULT_TOKEN_PORT = 8080
IDENTITY_HEADER_FILE = "identity-header"
SIGNING_KEY_FILE = "token-signing.key"
STATE_FILE = "secrets.json"


class _AccessLogger(AbstractAccessLogger):
    """Method, path, status and time; readiness probes are left out. Headers (tokens) are never logged."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.path != "/ping":
            self.logger.info(
                "%s %s -> %d (%.1f ms)", request.method, request.path, response.status, time * 1000
            )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack.keyvault")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the vault (HTTPS) and the token endpoint (HTTP)")
    serve.add_argument("--data-dir", type=Path, required=True, help="certificates, keys and secret state")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_VAULT_PORT, help="vault HTTPS port")
    serve.add_argument("--token-port", type=int, default=DEFAULT_TOKEN_PORT, help="token endpoint HTTP port")
    serve.add_argument("--tenant-id", default=DEFAULT_TENANT_ID, help="tenant named in the 401 challenge")
    serve.add_argument("--token-lifetime", type=int, default=DEFAULT_TOKEN_LIFETIME_SECONDS, help="seconds")
    serve.add_argument(
        "--identity-header-file",
        type=Path,
        help=f"file holding the expected X-IDENTITY-HEADER (default: DATA_DIR/{IDENTITY_HEADER_FILE})",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = ensure_certificates(data_dir)
    identity_header = load_or_create_identity_header(
        args.identity_header_file or data_dir / IDENTITY_HEADER_FILE
    )
    authority = TokenAuthority(load_or_create_signing_key(data_dir / SIGNING_KEY_FILE), args.token_lifetime)
    stand_in = KeyVaultStandIn(
        Vault(data_dir / STATE_FILE), authority, identity_header, tenant_id=args.tenant_id
    )

    vault_runner = web.AppRunner(stand_in.vault_app(), access_log_class=_AccessLogger)
    token_runner = web.AppRunner(stand_in.token_app(), access_log_class=_AccessLogger)
    await vault_runner.setup()
    await token_runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(vault_runner, args.host, args.port, ssl_context=server_ssl_context(paths)).start()
        await web.TCPSite(token_runner, args.host, args.token_port).start()
        logging.getLogger("devstack.keyvault").info(
            "ready: vault https://%s:%d token endpoint http://%s:%d (CA %s)",
            args.host,
            args.port,
            args.host,
            args.token_port,
            paths.ca_cert,
        )
        await stop.wait()
    finally:
        await vault_runner.cleanup()
        await token_runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
