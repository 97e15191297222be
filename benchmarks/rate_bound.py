"""Benchmark suite: export and delete at the rate-limit bound, against a sequential SDK baseline.

Drives the full stack: the function app on devhost (a subprocess, as in production one host per
instance), the emulator (its own process) at ``--rate`` calls/s with ``--latency`` on every API call
and ``--download-latency`` on every blob, Azurite and the Key Vault stand-in. Needs Azurite and the
stand-in running: ``./scripts/run.sh`` or ``devstack start azurite keyvault`` first, then::

    eval "$(.venv/bin/python -m devstack env)"
    .venv/bin/python -m benchmarks.rate_bound --sizes 1000,10000 --bulk 20

For each size it prints export and delete by this app (wall s; API span, the first to the last API
call; calls vs minimal; utilisation, the call bound (minimal calls / rate) over the wall time, and
call utilisation, the same over the API span; 429s; peak RSS of the host; largest history of any
orchestration instance), the same export and delete by the baseline, and the speed-up; the copy floor
(``copy_floor.py``: the same images copied with no app, the export's other bound on this machine);
then the bulk run: ``--bulk`` accounts, each with its own limit, submitted through the queue at once.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from azure.core.exceptions import ResourceExistsError
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient
from azure.storage.blob import ContainerClient
from azure.storage.queue import QueueClient

from benchmarks import baseline_sdk, copy_floor
from benchmarks.emulator_process import build
from benchmarks.minimal_calls import delete_calls, export_calls
from devstack.layout import StackLayout
from dsr.config import load_settings
from tests.e2e.stack import HostProcess, environment

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.5
WAIT_SLACK_SECONDS = 600
"""How long past 60x its call bound a run may take before the suite gives up (a shared, loaded
machine copies bytes slowly)."""
BULK_LIMITS = (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
"""Calls/s of the bulk accounts, in turn: every account has its own limit."""


def size_spec(images: int) -> dict[str, int]:
    """The issue's shape: 4 projects, 3 trained iterations (last published), 50 predictions, 1/4 untagged."""
    return {
        "projects_per_account": 4,
        "images_per_project": images // 4,
        "iterations_per_project": 3,
        "predictions_per_project": 50,
        "tags_per_project": 3,
        "untagged_every": 4,
    }


def bulk_spec(images: int) -> dict[str, int]:
    return {"projects_per_account": 1, "images_per_project": images, "iterations_per_project": 2}


@dataclass
class Row:
    label: str
    wall: float
    calls: int
    minimal: int
    rate: float
    throttled: int
    api_span: float
    """Seconds from the first to the last API call: the copying of bytes may trail it."""
    rss_mib: float | None = None
    history: int | None = None
    cpu_s: float | None = None
    """CPU seconds the host process used (user + system): near ``wall``, the run was CPU-bound."""
    services_cpu_s: tuple[float | None, float] = (None, 0.0)
    """CPU seconds Azurite (None if its pid is unknown) and the emulator used during the run."""
    load: float = 0.0
    """The machine's 1-minute load average when the run ended (it is shared)."""

    @property
    def call_bound(self) -> float:
        """Seconds the minimal calls take at the account's rate."""
        return self.minimal / self.rate

    @property
    def utilisation(self) -> float:
        """The call bound over the wall time."""
        return self.call_bound / self.wall

    @property
    def call_utilisation(self) -> float:
        """The call bound over the time the API was in use."""
        return self.call_bound / max(self.api_span, 1e-9)

    def line(self) -> str:
        rss = "-" if self.rss_mib is None else f"{self.rss_mib:.0f}"
        history = "-" if self.history is None else str(self.history)
        cpu = "-" if self.cpu_s is None else f"{self.cpu_s:.1f}"
        azurite, emulator = self.services_cpu_s
        services = f"{'-' if azurite is None else f'{azurite:.1f}'} | {emulator:.1f}"
        ratio = self.calls / self.minimal
        return (
            f"| {self.label} | {self.wall:.1f} | {self.api_span:.1f} | {self.calls} | {self.minimal} "
            f"| {ratio:.2f} | {self.utilisation:.2f} | {self.call_utilisation:.2f} | {self.throttled} "
            f"| {rss} | {history} | {cpu} | {services} | {self.load:.1f} |"
        )


class Emulator:
    """The emulator process and its admin API."""

    def __init__(self, accounts: dict[str, dict[str, int]], keys: dict[str, str]) -> None:
        self.token = secrets.token_hex(16)
        env = {
            **os.environ,
            "BENCH_EMULATOR_KEYS": json.dumps(keys),
            "BENCH_EMULATOR_ADMIN_TOKEN": self.token,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.emulator_process", json.dumps(accounts)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            raise RuntimeError("emulator did not start")

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(
            method,
            f"{self.base_url}/_emulator/{path}",
            json=body or {},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def knobs(self, account: str, rate: float, latency: float, download_latency: float) -> None:
        self.admin(
            "PUT",
            f"accounts/{account}/knobs",
            {
                "rateLimitPerSecond": rate,
                "latencySeconds": latency,
                "downloadLatencySeconds": download_latency,
            },
        )

    def calls(self, account: str) -> tuple[int, int, float]:
        """(calls received, of which throttled, seconds from first to last) since the last reset."""
        snapshot = self.admin("GET", "state")["accounts"][account]
        return (
            sum(snapshot["counters"].values()),
            sum(snapshot["throttled"].values()),
            float(snapshot["apiSpanSeconds"]),
        )

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stat_fields(stat: Path) -> list[str]:
    """The fields of a ``/proc/PID/stat`` after the command name (which may hold spaces): index 0 is
    field 3 (the state), so field N of proc(5) is index N - 3."""
    return stat.read_text().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children that have ended."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _session_cpu_seconds(session: int) -> float:
    """User + system CPU seconds of every live process in ``session`` (devstack starts each service in
    its own): Azurite over SQL is a wrapper with Azurite and MariaDB as its children."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = _stat_fields(stat)
            if int(fields[3]) == session:  # field 6 of /proc/PID/stat: the session id
                ticks += sum(int(value) for value in fields[11:13])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _azurite_pid() -> int | None:
    """The pid of the Azurite devstack started, if it did (its CPU time tells a storage-bound run)."""
    try:
        record = json.loads(StackLayout.from_env().pid_file("azurite").read_text())
    except (OSError, ValueError):
        return None
    return int(record["pid"])


def _largest_history(state_dir: Path) -> int:
    with sqlite3.connect(state_dir / "devhost.sqlite3") as db:
        row = db.execute(
            "SELECT COUNT(*) FROM history GROUP BY instance_id ORDER BY 1 DESC LIMIT 1"
        ).fetchone()
    return int(row[0]) if row else 0


class Bench:
    def __init__(self, args: argparse.Namespace, accounts: dict[str, dict[str, int]]) -> None:
        self.args = args
        self.settings = load_settings()
        self.run_id = uuid.uuid4().hex[:8]
        self.container_name = f"bench-{self.run_id}"
        self.queue_name = f"bench-{self.run_id}"
        self.keys = {name: secrets.token_hex(16) for name in accounts}
        self.truth = build(accounts, self.keys)  # the same seeds: an identical copy to count against
        self.emulator = Emulator(accounts, self.keys)
        vault = SecretClient(
            self.settings.key_vault_url,
            DefaultAzureCredential(),
            verify_challenge_resource=self.settings.key_vault_verify_challenge_resource,
            connection_verify=self.settings.key_vault_ca_bundle or True,
        )
        for name, key in self.keys.items():
            vault.set_secret(self.secret(name), key)
        self.container = ContainerClient.from_connection_string(
            self.settings.storage_connection, self.container_name
        )
        self.container.create_container()
        self.azurite_pid = _azurite_pid()

    def services_cpu(self) -> tuple[float | None, float]:
        """CPU seconds so far of Azurite (if known) and of the emulator."""
        azurite = None if self.azurite_pid is None else _session_cpu_seconds(self.azurite_pid)
        return azurite, _cpu_seconds(self.emulator.process.pid)

    def services_cpu_since(self, before: tuple[float | None, float]) -> tuple[float | None, float]:
        azurite, emulator = self.services_cpu()
        return (None if azurite is None or before[0] is None else azurite - before[0]), emulator - before[1]

    def secret(self, account: str) -> str:
        return f"bench-{self.run_id}-{account}"

    @contextmanager
    def host(self) -> Iterator[HostProcess]:
        """A fresh host per run, so its peak RSS and history belong to that run alone."""
        with tempfile.TemporaryDirectory() as tmp:
            process = HostProcess(
                env=environment(
                    {
                        "DSR_ALLOWED_ENDPOINT_ORIGINS": self.emulator.base_url,
                        "DSR_EXPORT_CONTAINER": self.container_name,
                        "DSR_REQUEST_QUEUE": self.queue_name,
                        "DSR_CV_RATE_LIMIT_PER_SECOND": str(self.args.rate),
                    }
                ),
                state_dir=Path(tmp) / "state",
                log_path=Path(tmp) / "host.log",
                function_key=secrets.token_urlsafe(24),
            )
            try:
                yield process.start()
            finally:
                process.stop()

    def body(self, account: str, operation: str, rate: float | None = None) -> dict[str, Any]:
        reference: dict[str, Any] = {
            "endpoint": self.emulator.base_url,
            "trainingKeySecret": self.secret(account),
        }
        if rate is not None:
            reference["callsPerSecond"] = rate
        return {
            "requestId": f"{operation}-{account}-{self.run_id}",
            "operation": operation,
            "account": reference,
        }

    def prepare(self, account: str, rate: float) -> None:
        self.emulator.knobs(account, rate, self.args.latency, self.args.download_latency)
        self.emulator.admin("POST", "counters/reset")

    def app_run(self, account: str, operation: str) -> Row:
        minimal = export_calls if operation == "export" else delete_calls
        expected = sum(minimal(self.truth.account(account)).values())
        self.prepare(account, self.args.rate)
        services = self.services_cpu()
        with self.host() as host:
            body = self.body(account, operation)
            started = time.monotonic()
            accepted = host.submit(body)
            accepted.raise_for_status()
            finished = host.wait(
                body["requestId"], timeout=WAIT_SLACK_SECONDS + 60 * expected / self.args.rate
            )
            wall = time.monotonic() - started
            if finished.json()["state"] != "succeeded":
                raise RuntimeError(
                    f"{operation} of {account} ended {finished.json()['state']}: {finished.text[:2000]}"
                )
            assert host.process is not None
            rss = _peak_rss_mib(host.process.pid)
            cpu = _cpu_seconds(host.process.pid)
            history = _largest_history(host.state_dir)
        calls, throttled, span = self.emulator.calls(account)
        return Row(
            f"app {operation}",
            wall,
            calls,
            expected,
            self.args.rate,
            throttled,
            span,
            rss,
            history,
            cpu,
            self.services_cpu_since(services),
            os.getloadavg()[0],
        )

    def baseline_run(self, account: str, operation: str) -> Row:
        minimal = export_calls if operation == "export" else delete_calls
        expected = sum(minimal(self.truth.account(account)).values())
        self.prepare(account, self.args.rate)
        key = self.keys[account]
        services = self.services_cpu()
        started = time.monotonic()
        if operation == "export":
            baseline_sdk.export(
                self.emulator.base_url, key, self.container, f"baseline-{account}", self.args.rate
            )
        else:
            baseline_sdk.delete(self.emulator.base_url, key, self.args.rate)
        wall = time.monotonic() - started
        calls, throttled, span = self.emulator.calls(account)
        return Row(
            f"SDK baseline {operation}",
            wall,
            calls,
            expected,
            self.args.rate,
            throttled,
            span,
            services_cpu_s=self.services_cpu_since(services),
            load=os.getloadavg()[0],
        )

    def copy_floor(self, account: str) -> tuple[float, int]:
        """(seconds, images) the machine takes to copy the account's images with no app in the way."""
        self.prepare(account, self.args.rate)
        return copy_floor.measure(
            self.emulator.base_url,
            self.keys[account],
            self.settings.storage_connection,
            f"{self.container_name}-floor",
        )

    def bulk(self, names: list[str]) -> tuple[float, float, int]:
        """(total wall s, the largest single account's bound s, 429s) for all ``names`` at once."""
        bounds = []
        for index, name in enumerate(names):
            limit = BULK_LIMITS[index % len(BULK_LIMITS)]
            self.emulator.knobs(name, limit, self.args.latency, self.args.download_latency)
            bounds.append(sum(export_calls(self.truth.account(name)).values()) / limit)
        self.emulator.admin("POST", "counters/reset")
        bodies = [
            self.body(name, "export", BULK_LIMITS[index % len(BULK_LIMITS)])
            for index, name in enumerate(names)
        ]
        with self.host() as host:
            queue = QueueClient.from_connection_string(self.settings.storage_connection, self.queue_name)
            with suppress(ResourceExistsError):
                queue.create_queue()  # as the deployment's infrastructure does
            started = time.monotonic()
            queue.send_message(base64.b64encode(json.dumps({"requests": bodies}).encode()).decode())
            deadline = started + WAIT_SLACK_SECONDS + 60 * max(bounds)
            for body in bodies:
                while host.status(body["requestId"]).status_code == 404:
                    if time.monotonic() > deadline:
                        raise RuntimeError("queued request never started")
                    time.sleep(POLL_SECONDS)
                finished = host.wait(body["requestId"], timeout=max(1.0, deadline - time.monotonic()))
                if finished.json()["state"] != "succeeded":
                    raise RuntimeError(f"bulk export ended {finished.json()['state']}")
            wall = time.monotonic() - started
        throttled = sum(self.emulator.calls(name)[1] for name in names)
        return wall, max(bounds), throttled

    def close(self) -> None:
        self.emulator.stop()
        self.container.delete_container()


HEADER = (
    "| run | wall s | API span s | calls | minimal | calls/minimal | utilisation | call utilisation "
    "| 429s | peak host RSS MiB | largest history | host CPU s | Azurite CPU s | emulator CPU s | load |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


OPERATIONS = ("export", "delete")
DEFAULT_BULK_ACCOUNTS = 20


def _operations(text: str) -> tuple[str, ...]:
    """``--operations``: a comma-separated subset of OPERATIONS, run in the order given."""
    chosen = tuple(op.strip() for op in text.split(",") if op.strip())
    unknown = sorted(set(chosen) - set(OPERATIONS))
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(OPERATIONS)} without repeats, got {text!r}"
        )
    return chosen


def _sizes(text: str) -> list[int]:
    """``--sizes``: image counts, each a positive multiple of 4 (the account's 4 projects share them)."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(n <= 0 or n % 4 for n in sizes):
        raise argparse.ArgumentTypeError(
            f"expected image counts that are positive multiples of 4, got {text!r}"
        )
    return sizes


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, got {text!r}")
        return value

    return parse


def _number(minimum: float, *, exclusive: bool = False) -> Callable[[str], float]:
    """A finite number of at least ``minimum`` (above it, if ``exclusive``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < minimum or (exclusive and value == minimum):
            bound = f"above {minimum:g}" if exclusive else f"at least {minimum:g}"
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}")
        return value

    return parse


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the suite and print the tables; returns the figures (the smoke test reads them)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rate_bound")
    parser.add_argument("--sizes", type=_sizes, default=[1000, 10000], help="image counts, comma-separated")
    parser.add_argument(
        "--rate",
        type=_number(0, exclusive=True),
        default=10.0,
        help="calls/s of the account (service and app)",
    )
    parser.add_argument("--latency", type=_number(0), default=0.05, help="seconds added to every API call")
    parser.add_argument(
        "--download-latency", type=_number(0), default=0.05, help="seconds added to every blob"
    )
    parser.add_argument(
        "--bulk",
        type=_at_least(0),
        default=None,
        help=f"accounts in the bulk export run (0: none; default {DEFAULT_BULK_ACCOUNTS} with the export)",
    )
    parser.add_argument("--bulk-images", type=_at_least(1), default=500, help="images per bulk account")
    parser.add_argument("--no-baseline", action="store_true", help="skip the sequential SDK baseline")
    parser.add_argument(
        "--no-copy-floor", action="store_true", help="skip the copy floor (see copy_floor.py)"
    )
    parser.add_argument(
        "--operations",
        type=_operations,
        default=OPERATIONS,
        help="export, delete or both, comma-separated (a delete alone runs on data no export has read)",
    )
    args = parser.parse_args(argv)
    if args.bulk is None:
        args.bulk = DEFAULT_BULK_ACCOUNTS if "export" in args.operations else 0
    elif args.bulk and "export" not in args.operations:
        parser.error("--bulk runs exports: add export to --operations, or leave --bulk out")
    sizes: list[int] = args.sizes
    accounts = {f"app-{n}": size_spec(n) for n in sizes}
    if not args.no_baseline:
        accounts |= {f"sdk-{n}": size_spec(n) for n in sizes}
    bulk_names = [f"bulk-{i + 1:02d}" for i in range(args.bulk)]
    accounts |= {name: bulk_spec(args.bulk_images) for name in bulk_names}
    print(
        f"rate {args.rate} calls/s, API latency {args.latency * 1000:.0f} ms, "
        f"download latency {args.download_latency * 1000:.0f} ms, {os.cpu_count()} CPUs",
        flush=True,
    )
    bench = Bench(args, accounts)
    figures: dict[str, Any] = {"sizes": {}}
    try:
        for n in sizes:
            # Before the app's runs: its delete removes the images the floor copies.
            measure_floor = "export" in args.operations and not args.no_copy_floor
            floor = bench.copy_floor(f"app-{n}") if measure_floor else None
            print(f"\n{n} images\n{HEADER}", flush=True)
            plan = [(bench.app_run, f"app-{n}", op) for op in args.operations]
            if not args.no_baseline:
                plan += [(bench.baseline_run, f"sdk-{n}", op) for op in args.operations]
            rows: dict[str, Row] = {}
            for run, account, operation in plan:
                row = run(account, operation)
                rows[row.label] = row
                print(row.line(), flush=True)
            figures["sizes"][n] = rows
            if floor is not None:
                seconds, images = floor
                export = rows["app export"]
                bound = max(export.call_bound, seconds)
                figures.setdefault("copy_floor", {})[n] = (seconds, images)
                print(
                    f"copy floor: {images} images in {seconds:.1f} s ({images / seconds:.0f}/s) with no app; "
                    f"export bound on this machine max(call bound, floor) {bound:.1f} s; "
                    f"the app's export at {bound / export.wall:.2f} of it",
                    flush=True,
                )
            if not args.no_baseline:
                for op in args.operations:
                    ours, theirs = rows[f"app {op}"], rows[f"SDK baseline {op}"]
                    print(f"speed-up over the SDK baseline, {op}: {theirs.wall / ours.wall:.1f}x", flush=True)
        if bulk_names:
            # The accounts one after the other through one pool of threads: one copy of all their images.
            floors = [] if args.no_copy_floor else [bench.copy_floor(name) for name in bulk_names]
            wall, bound, throttled = bench.bulk(bulk_names)
            figures["bulk"] = (wall, bound, throttled)
            print(
                f"\nbulk: {len(bulk_names)} accounts x {args.bulk_images} images via the queue: {wall:.1f} s "
                f"total; largest single bound {bound:.1f} s; ratio {wall / bound:.2f}; 429s {throttled}; "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if floors:
                seconds, images = sum(f[0] for f in floors), sum(f[1] for f in floors)
                figures["bulk_copy_floor"] = (seconds, images)
                print(
                    f"bulk copy floor: {images} images in {seconds:.1f} s with no app; bound on this machine "
                    f"max(largest call bound, floor) {max(bound, seconds):.1f} s; ratio "
                    f"{wall / max(bound, seconds):.2f}",
                    flush=True,
                )
    finally:
        bench.close()
    return figures


if __name__ == "__main__":
    main()
