"""Command line: ``python -m emulator serve|seed``.

Keys come from environment variables named on the command line (never from argv or files in the repo):
``--account-key-env CV_EMULATOR_DEMO_KEY`` (repeat for more accounts: account-1, account-2, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

from emulator.seed import PRESETS, account_name, preset
from emulator.server import EmulatorServer


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"environment variable {name} is not set")
    return value


def _keys(args: argparse.Namespace, accounts: int) -> dict[str, str]:
    names = args.account_key_env or []
    if len(names) != accounts:
        raise SystemExit(
            f"preset {args.preset!r} has {accounts} account(s): pass --account-key-env {accounts} time(s)"
        )
    return {account_name(i): _env(name) for i, name in enumerate(names)}


def _serve(args: argparse.Namespace) -> int:
    state = preset(args.preset, _keys(args, PRESETS[args.preset].accounts))
    admin_token = _env(args.admin_token_env) if args.admin_token_env else None
    server = EmulatorServer(state, args.host, args.port, admin_token=admin_token)
    print(f"Custom Vision emulator on {server.base_url} (preset {args.preset})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _seed(args: argparse.Namespace) -> int:
    spec = PRESETS[args.preset]
    # The snapshot never contains keys, so throwaway ones suffice here.
    state = preset(args.preset, {account_name(i): secrets.token_hex(16) for i in range(spec.accounts)})
    Path(args.out).write_text(json.dumps(state.snapshot(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="Custom Vision Training API emulator"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a seeded dataset on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7080)
    serve.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    serve.add_argument(
        "--account-key-env",
        action="append",
        metavar="VAR",
        help="environment variable holding an account's training key (repeatable)",
    )
    serve.add_argument(
        "--admin-token-env", metavar="VAR", help="environment variable holding the admin token"
    )
    serve.set_defaults(run=_serve)
    seed = commands.add_parser("seed", help="write a preset's state summary as JSON")
    seed.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    seed.add_argument("--out", required=True)
    seed.set_defaults(run=_seed)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
