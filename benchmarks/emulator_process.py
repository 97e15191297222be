"""The emulator in a process of its own for benchmarks, so serving ~1,000 requests/s does not share
an interpreter (and its GIL) with the driver or the baseline script.

    python -m benchmarks.emulator_process ACCOUNTS_JSON

``ACCOUNTS_JSON`` maps account names to seed specs (``SeedSpec`` fields); the keys come as a JSON
object in the environment variable ``BENCH_EMULATOR_KEYS`` and the admin token in
``BENCH_EMULATOR_ADMIN_TOKEN`` (never on the command line). Prints the base URL, then serves until
stdin closes.
"""

from __future__ import annotations

import json
import os
import random
import sys

from emulator.seed import SeedSpec, _Ids, build_project
from emulator.server import EmulatorServer
from emulator.state import Account, EmulatorState


def build(accounts: dict[str, dict[str, int]], keys: dict[str, str]) -> EmulatorState:
    """One account per entry, each seeded from its own spec (ids differ between accounts)."""
    state = EmulatorState()
    for index, (name, fields) in enumerate(sorted(accounts.items())):
        spec = SeedSpec(accounts=1, seed=1000 + index, **fields)
        rng = random.Random(spec.seed)
        ids = _Ids(rng)
        account = state.add_account(Account(name, keys[name]))
        for p in range(spec.projects_per_account):
            account.add_project(build_project(spec, rng, ids, f"{name} project {p + 1}"))
    return state


def main() -> None:
    accounts = json.loads(sys.argv[1])
    keys = json.loads(os.environ["BENCH_EMULATOR_KEYS"])
    state = build(accounts, keys)
    with EmulatorServer(state, admin_token=os.environ["BENCH_EMULATOR_ADMIN_TOKEN"]) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # the driver closes stdin when it is done


if __name__ == "__main__":
    main()
