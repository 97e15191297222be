"""Command line: ``python -m devhost start [options]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from devhost.host import Host


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public so the docs and tests agree on the options)."""
    parser = argparse.ArgumentParser(prog="python -m devhost", description="Local Azure Functions host")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="run the function app in --app-dir")
    start.add_argument("--app-dir", type=Path, default=Path.cwd(), help="folder with function_app.py")
    start.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    start.add_argument("--port", type=int, default=7071, help="HTTP port (0 = any free port)")
    start.add_argument("--rpc-port", type=int, default=17071, help="Durable RPC port (0 = any free port)")
    start.add_argument(
        "--state-dir", type=Path, default=None, help="state folder (default APP_DIR/.local/devhost)"
    )
    start.add_argument(
        "--function-key", default=None, help="key for function/admin routes (or DEVHOST_FUNCTION_KEY)"
    )
    start.add_argument(
        "--fast-timers",
        action="store_true",
        default=None,
        help="fire durable timers immediately (or DEVHOST_FAST_TIMERS=1)",
    )
    start.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="[%(asctime)s] %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    # The Azure SDKs log every HTTP request at INFO; the Functions host filters them out by category too.
    logging.getLogger("azure").setLevel(max(logging.WARNING, logging.getLogger().level))
    host = Host(
        args.app_dir,
        host=args.host,
        port=args.port,
        rpc_port=args.rpc_port,
        state_dir=args.state_dir,
        function_key=args.function_key,
        fast_timers=args.fast_timers,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(host.serve_forever())
    return 0
