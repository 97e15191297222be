"""The reliability soak: the CI scenarios many times over with drawn parameters, plus the bad-input
catalogue over HTTP and the queue; writes its figures into docs/reliability.md.

    ./scripts/soak.sh                       # starts the local stack, then runs this module
    .venv/bin/python -m tests.reliability.soak --rounds 6 --seed 1   # with the stack's env exported

Each round: one same-id race (20 bodies + 2 repeats), one export and one delete killed at the next
of the kill points, one export and one scoped delete under 20 % faults (every third round with slow
calls that outlast the client's 30 s timeout), and one delete killed under 10 % faults. Exits
non-zero if anything differed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import requests
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from emulator.faults import FaultPlan
from tests.e2e.stack import ROOT, HostProcess
from tests.reliability.harness import Reliability, faults
from tests.reliability.scenarios import (
    API_FAULT_KINDS,
    DELETE_KILL_POINTS,
    EXPORT_KILL_POINTS,
    Reference,
    clean_delete,
    clean_export,
    faulty_delete,
    faulty_export,
    kill_delete,
    kill_export,
    plan,
    same_id_race,
)

DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- soak figures: begin -->", "<!-- soak figures: end -->"
QUEUE_MESSAGE_LIMIT = 64 * 1024
SLOW_MIX = {"http500": 0.05, "http503": 0.05, "http429": 0.05, "reset": 0.04, "slow": 0.01}
"""20 % in all, 1 % of calls stalling 35 s (past the app client's 30 s read timeout)."""


def bad_input_catalogue() -> list[Any]:
    """The lead's catalogue (``tests/app/bad_inputs.py``: ``CATALOGUE`` of cases with ``name``,
    ``raw`` bytes, the ``field`` and ``message`` prefix the 400 must carry); empty if absent."""
    try:
        from tests.app.bad_inputs import CATALOGUE, PERSONAL
    except ImportError:
        return []
    return [(case, PERSONAL) for case in CATALOGUE]


@dataclass
class CatalogueFigures:
    http_tried: int = 0
    http_refused: int = 0
    queue_tried: int = 0
    queue_recorded: int = 0
    wrong: tuple[str, ...] = ()


def run_catalogue(rel: Reliability, host: HostProcess) -> CatalogueFigures:
    """Every case over HTTP (a 400 naming its field, nothing personal echoed) and, where it fits a
    queue message, over the queue (recorded under intake/rejected/ with that field)."""
    figures = CatalogueFigures()
    wrong: list[str] = []
    cases = bad_input_catalogue()
    with requests.Session() as session:
        for case, personal in cases:
            figures.http_tried += 1
            response = session.post(f"{host.api}/requests", data=case.raw, headers=host.headers, timeout=10)
            error = response.json().get("error", {}) if response.status_code == 400 else {}
            got = (
                response.status_code,
                error.get("field"),
                str(error.get("message", ""))[: len(case.message)],
            )
            if got == (400, case.field, case.message) and personal not in response.text:
                figures.http_refused += 1
            else:
                wrong.append(f"http {case.name}")
    queue = QueueClient.from_connection_string(rel.settings.storage_connection, rel.container_name)
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()
    sent: dict[str, Any] = {}
    for case, personal in cases:
        encoded = base64.b64encode(case.raw).decode()
        if len(encoded) <= QUEUE_MESSAGE_LIMIT:
            sent[queue.send_message(encoded).id] = (case, personal)
    figures.queue_tried = len(sent)
    container = rel.folder("").container
    found: dict[str, Any] = {}
    deadline = time.monotonic() + 180
    while len(found) < len(sent) and time.monotonic() < deadline:
        for blob in container.list_blobs(name_starts_with="intake/rejected/"):
            if blob.name in found.values():
                continue
            record = json.loads(container.download_blob(blob.name).readall())
            if record.get("messageId") in sent:
                found[record["messageId"]] = blob.name
                case, personal = sent[record["messageId"]]
                if record.get("field") == case.field and personal not in json.dumps(record):
                    figures.queue_recorded += 1
                else:
                    wrong.append(f"queue {case.name}")
        time.sleep(0.5)
    wrong += [f"queue {sent[m][0].name} (never recorded)" for m in sent if m not in found]
    figures.wrong = tuple(wrong)
    return figures


def _attempt(failures: list[str], what: str, step: Callable[[], object]) -> None:
    """Run one scenario; a difference is recorded (the tally keeps the details) and the soak goes on."""
    try:
        step()
    except AssertionError as exc:
        failures.append(f"{what}: {str(exc).splitlines()[0][:300]}")
        print(f"  FAILED {what}: {str(exc).splitlines()[0][:300]}", flush=True)
    else:
        print(f"  ok     {what}", flush=True)


def soak(rounds: int, seed: int) -> tuple[Reliability, list[str], CatalogueFigures, float]:
    started = time.monotonic()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dsr-soak-") as root, Reliability(Path(root)) as rel:
        host = rel.host()
        print("clean reference runs", flush=True)
        export_ref = clean_export(rel, host)
        delete_ref = clean_delete(rel, host)
        print("bad-input catalogue", flush=True)
        catalogue = run_catalogue(rel, host)
        for number in range(rounds):
            rng = random.Random(f"{seed}/{number}")
            print(f"round {number + 1}/{rounds}", flush=True)
            operation = "export" if number % 2 == 0 else "dry-run"
            point = EXPORT_KILL_POINTS[number % len(EXPORT_KILL_POINTS)]
            spot = DELETE_KILL_POINTS[number % len(DELETE_KILL_POINTS)]
            fault_seed = rng.randrange(1 << 30)
            mix = (
                FaultPlan(SLOW_MIX, seed=fault_seed, retry_after_seconds=1)
                if number % 3 == 2
                else plan(0.2, fault_seed)
            )
            kinds = "+".join(sorted(k for k, p in mix.probabilities.items() if p))
            steps: list[tuple[str, Callable[[], object]]] = [
                (f"race ({operation})", partial(same_id_race, rel, host, operation, 20, rng)),
                (f"kill export at {point}", partial(kill_export, rel, host, export_ref, *point)),
                (f"kill delete at {spot}", partial(kill_delete, rel, host, delete_ref, *spot)),
                (f"export under 20% {kinds}", partial(faulty_export, rel, host, export_ref, mix)),
                (f"delete under 20% {kinds}", partial(faulty_delete, rel, host, delete_ref, mix)),
            ]
            chaos = (DELETE_KILL_POINTS[(number + 1) % len(DELETE_KILL_POINTS)], plan(0.1, fault_seed + 1))
            steps.append(
                (
                    f"kill delete at {chaos[0]} under 10% faults",
                    partial(_kill_under_faults, rel, host, delete_ref, *chaos),
                )
            )
            for what, step in steps:
                _attempt(failures, what, step)
        return rel, failures, catalogue, time.monotonic() - started


def _kill_under_faults(
    rel: Reliability, host: HostProcess, clean: Reference, point: tuple[str, int, str], fault_plan: FaultPlan
) -> None:
    with faults(rel, "delete", fault_plan):
        kill_delete(rel, host, clean, *point)


def figures_markdown(
    rel: Reliability, failures: list[str], catalogue: CatalogueFigures, rounds: int, seed: int, seconds: float
) -> str:
    tally = rel.tally
    kinds = ", ".join(f"{kind} {tally.faults.get(kind, 0)}" for kind in (*API_FAULT_KINDS, "slow"))
    lines = [
        BEGIN,
        f"Last soak: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `--rounds {rounds} --seed {seed}`, "
        f"{seconds / 60:.1f} min on the dev machine.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| bad-input cases tried over HTTP / refused with their exact 400 | {catalogue.http_tried} / "
        f"{catalogue.http_refused} |",
        f"| bad-input cases tried over the queue / recorded as rejected with their field | "
        f"{catalogue.queue_tried} / {catalogue.queue_recorded} |",
        f"| same-id races / submissions in them | {tally.races} / {tally.race_submissions} |",
        f"| requests run | {tally.requests_run} |",
        f"| host kills (`kill -9`) and restarts | {tally.kills} |",
        f"| faults injected ({kinds}) | {sum(tally.faults.values())} |",
        f"| export files compared with a clean run | {tally.files_compared} |",
        f"| receipts compared with a clean run | {tally.receipts_compared} |",
        f"| images outside a delete's scope checked / lost | {tally.images_outside_scope_checked} / "
        f"{tally.images_lost} |",
        f"| scenarios that differed from the clean run | {len(failures)} |",
        "",
    ]
    if failures or catalogue.wrong:
        lines += ["Differences found:", ""]
        lines += [f"- {failure}" for failure in failures]
        lines += [f"- bad input: {name}" for name in catalogue.wrong]
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def write_figures(text: str, doc: Path = DOC) -> None:
    """Replace the figures between the markers of docs/reliability.md (the rest is hand-written)."""
    current = doc.read_text(encoding="utf-8")
    if BEGIN not in current or END not in current:
        raise SystemExit(f"{doc} lacks the soak figure markers")
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    doc.write_text(head + text + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave the doc alone")
    args = parser.parse_args(argv)
    rel, failures, catalogue, seconds = soak(args.rounds, args.seed)
    text = figures_markdown(rel, failures, catalogue, args.rounds, args.seed, seconds)
    print(text)
    if not args.no_write:
        write_figures(text)
    ok = not failures and not catalogue.wrong and rel.tally.images_lost == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
