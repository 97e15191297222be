"""Command line: ``python -m devhost start [options]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from devhost.config import HostKeys
from devhost.host import Host
from devhost.scaleout import Supervisor, free_port


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
        "--function-key", default=None, help="key for function-level routes (or DEVHOST_FUNCTION_KEY)"
    )
    start.add_argument(
        "--system-key",
        default=None,
        help="durabletask_extension system key for the Durable webhooks (or DEVHOST_SYSTEM_KEY)",
    )
    start.add_argument(
        "--master-key", default=None, help="master key: admin APIs and every route (or DEVHOST_MASTER_KEY)"
    )
    start.add_argument(
        "--instances",
        type=int,
        default=1,
        help="scale-out: run N host processes on one state store and the same ports (default 1)",
    )
    start.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    start.add_argument(
        "--fast-timers",
        action="store_true",
        default=None,
        help="fire durable timers immediately (or DEVHOST_FAST_TIMERS=1)",
    )
    start.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser


async def _serve(host: Host) -> None:
    # SIGTERM stops cleanly (the instance leaves the store's worker list at once).
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await host.start()
    try:
        await stopped.wait()
    finally:
        await host.stop()


def _instance_args(args: argparse.Namespace, port: int, rpc_port: int, state_dir: Path) -> list[str]:
    forwarded = ["--app-dir", str(args.app_dir), "--host", args.host, "--log-level", args.log_level]
    forwarded += ["--port", str(port), "--rpc-port", str(rpc_port), "--state-dir", str(state_dir)]
    if args.fast_timers:
        forwarded.append("--fast-timers")
    return [*forwarded, "--reuse-port"]


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    # Scale-out instances tag their lines, so one log shows which instance ran what.
    instance = os.environ.get("DEVHOST_INSTANCE") if args.reuse_port else None
    tag = f"[instance {instance}] " if instance is not None else ""
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"[%(asctime)s] {tag}%(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    # The Azure SDKs log every HTTP request at INFO; the Functions host filters them out by category too.
    logging.getLogger("azure").setLevel(max(logging.WARNING, logging.getLogger().level))
    if args.instances < 1:
        raise SystemExit("--instances must be at least 1")
    if args.instances > 1:
        app_dir = args.app_dir.resolve()
        state_dir = (args.state_dir or app_dir / ".local" / "devhost").resolve()
        port = args.port or free_port(args.host)
        rpc_port = args.rpc_port or free_port(args.host)
        # Keys left out are made up once here, so that every instance accepts the same ones; they go
        # to the instances in the environment, never on a command line others can read.
        keys = HostKeys.build(args.function_key, args.system_key, args.master_key)
        env = (
            {
                "DEVHOST_FUNCTION_KEY": next(iter(keys.function)),
                "DEVHOST_SYSTEM_KEY": keys.system,
                "DEVHOST_MASTER_KEY": keys.master,
            }
            if keys.enabled
            else {}
        )
        instance_args = _instance_args(args, port, rpc_port, state_dir)
        return Supervisor(instance_args, args.instances, state_dir, env).run()
    host = Host(
        args.app_dir,
        host=args.host,
        port=args.port,
        rpc_port=args.rpc_port,
        state_dir=args.state_dir,
        function_key=args.function_key,
        system_key=args.system_key,
        master_key=args.master_key,
        fast_timers=args.fast_timers,
        reuse_port=args.reuse_port,
        run_timers=instance in (None, "0"),
    )
    asyncio.run(_serve(host))
    return 0
