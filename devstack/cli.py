"""``python -m devstack``: start, stop and inspect the local stand-ins; print the local configuration."""

from __future__ import annotations

import argparse
import shlex
import sys

from devstack.environment import local_environment
from devstack.layout import DevstackError, StackLayout
from devstack.manager import ServiceManager
from devstack.seed import create_request_queue, seed_demo
from devstack.services import DEFAULT_SERVICES, SERVICES, resolve


def _parser() -> argparse.ArgumentParser:
    names = ", ".join(SERVICES)
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Local stand-ins for Azure Storage, Key Vault, Custom Vision and the Functions host.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser(
        "start", help=f"start services (default: {' '.join(DEFAULT_SERVICES)}; known: {names})"
    )
    start.add_argument("services", nargs="*")
    stop = sub.add_parser("stop", help="stop services (default: all)")
    stop.add_argument("services", nargs="*")
    sub.add_parser("status", help="show which services run and answer their readiness probe")
    sub.add_parser("env", help="print `export NAME=value` lines for the local configuration")
    sub.add_parser("seed-demo", help="store the demo account's training key in the Key Vault stand-in")
    return parser


def run(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        layout = StackLayout.from_env()
        manager = ServiceManager(layout)
        if args.command == "start":
            manager.start(resolve(args.services or list(DEFAULT_SERVICES)))
        elif args.command == "stop":
            manager.stop(resolve(args.services or list(SERVICES)))
        elif args.command == "status":
            states = manager.status(resolve(list(SERVICES)))
            return 0 if all(s.ready for s in states if s.running) else 1
        elif args.command == "env":
            for name, value in local_environment(layout).items():
                print(f"export {name}={shlex.quote(value)}")
        elif args.command == "seed-demo":
            demo = seed_demo(layout)
            state = "stored new version" if demo.created_version else "unchanged"
            print(f"demo endpoint:    {demo.endpoint}")
            print(f"training key:     Key Vault secret {demo.secret_name!r} ({state})")
            print(f"secret version:   {demo.secret_version}")
            queue = local_environment(layout)["DSR_REQUEST_QUEUE"]
            try:
                state = "created" if create_request_queue(layout) else "exists"
            except DevstackError as exc:  # the key is stored; the queue waits for Azurite
                state = f"not created: {exc}"
            print(f"request queue:    {queue} ({state})")
    except DevstackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0
