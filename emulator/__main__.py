"""Command line: ``python -m emulator serve|seed``.

Keys come from environment variables named on the command line (never from argv or files in the repo):
``--account-key-env CV_EMULATOR_DEMO_KEY`` (repeat for more accounts: account-1, account-2, ...).
Random faults: ``--faults http503=0.05,reset=0.02`` for every account, or ``--faults account-2:http429=0.1``
(repeatable), with ``--fault-seed`` for a reproducible sequence.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

from emulator.faults import DEFAULT_SLOW_SECONDS, FaultPlan, FaultPlanError, parse_fault_spec
from emulator.seed import PRESETS, account_name, preset
from emulator.server import EmulatorServer
from emulator.state import EmulatorState


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


def apply_fault_specs(state: EmulatorState, args: argparse.Namespace) -> None:
    """Give accounts the random fault plans of ``--faults`` (a later spec for an account wins)."""
    for spec in args.faults or []:
        try:
            account, probabilities = parse_fault_spec(spec)
            plan = FaultPlan(
                probabilities,
                seed=args.fault_seed,
                retry_after_seconds=args.retry_after_seconds,
                slow_seconds=args.slow_seconds,
            )
        except FaultPlanError as exc:
            raise SystemExit(f"--faults {spec!r}: {exc}") from None
        if account is not None and account not in state.accounts:
            raise SystemExit(f"--faults {spec!r}: no account {account!r} in this preset")
        for name, target in state.accounts.items():
            if account in (None, name):
                target.controls.injector.set_plan(plan)


def _serve(args: argparse.Namespace) -> int:
    state = preset(args.preset, _keys(args, PRESETS[args.preset].accounts))
    apply_fault_specs(state, args)
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
    serve.add_argument(
        "--faults",
        action="append",
        metavar="[ACCOUNT:]KIND=P,...",
        help="random fault probabilities per call (http500, http503, http429, reset, slow); repeatable",
    )
    serve.add_argument("--fault-seed", type=int, default=0, help="seed of the random faults")
    serve.add_argument(
        "--slow-seconds", type=float, default=DEFAULT_SLOW_SECONDS, help="stall of a slow fault"
    )
    serve.add_argument("--retry-after-seconds", type=int, default=1, help="Retry-After of a 429 fault")
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
