"""Benchmark: the host's CPU per exported image, by phase.

On a machine where the host, the emulator and Azurite share two cores, every CPU millisecond the host
spends per image is wall time. This measures process CPU time (user + kernel, ``getrusage``), not wall time,
so its figures hold on a loaded machine. The emulator runs in its own process and Azurite is another,
so the process measured is the host's code alone.

Phases, each run on its own over the same ``N`` small originals of one emulated project and
single-threaded unless said otherwise, so each figure is that phase's cost alone:

- ``listing``: ``GetImages`` pages parsed into records (the images unit's listing);
- ``download``: each original streamed from the emulator through ``TrainingClient.open_download``;
- ``sha256``: hashing each original's bytes;
- ``upload``: each original written with ``ExportStore.put_stream`` as ``copy_download`` does (its
  sha256 included: subtract the line above for the SDK's share);
- ``records``: the image records (``exportedFile`` fields, signed links removed) written as NDJSON;
- ``copy``: ``copy_download`` image by image: download and upload together, as one download thread
  runs them;
- ``unit``: the whole images unit (``run_export_unit`` until done) on the process's download threads,
  as the activity runs it: everything above, together;
- ``package``: the status-writing step over that unit's records (paged views, COCO, manifest);
- ``large_copy``: ``copy_download`` of a few large originals (default 6 MiB, Custom Vision's largest,
  so each goes as staged blocks): the costs that grow with the bytes.

Needs Azurite: ``eval "$(python -m devstack env)"`` first.

    .venv/bin/python -m benchmarks.export_cpu [--images N] [--profile PHASE]

``--profile PHASE`` runs that phase again under cProfile (timed by CPU) and prints the top functions
by own time. cProfile's cost per call inflates code made of many small calls, so read its shares as
pointers, and the phase figures as the measurement. The unit phase is profiled on its calling thread
only: profile ``copy`` for what the download threads do.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import logging
import os
import pstats
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks.export_memory import unit_calls
from dsr.config import load_settings
from dsr.customvision import Image, TrainingClient
from dsr.export import _image_records, copy_download, record_account_listing, run_export_unit
from dsr.package.export_package import write_export_package
from dsr.runtime import STORE_POOL_SIZE, Runtime
from dsr.storage import BlobExportStore, FileRef, put_json, put_ndjson
from dsr.units import Job, Unit
from emulator.png import make_png
from tests.functional.documents import finished_export
from tests.functional.fakes import KeyOnlySecrets

ACCOUNT = "account-1"
RECORDS_PER_PART = 2_048
"""Records per NDJSON part: what one images-unit activity call writes at most."""


@contextmanager
def large_originals(count: int, size: int) -> Iterator[list[str]]:
    """URIs of ``count`` PNG originals of ``size`` bytes, served by a static file server in its own
    process (the emulator takes at most 1 MiB per upload, so it cannot hold them)."""
    head = make_png(64, 64, seed="large")
    with tempfile.TemporaryDirectory() as folder:
        for n in range(count):
            with open(os.path.join(folder, f"{n:04d}.png"), "wb") as file:
                file.write(head + os.urandom(max(0, size - len(head))))
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", folder, "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline().split(" port ")[1].split()[0])
            yield [f"http://127.0.0.1:{port}/{n:04d}.png" for n in range(count)]
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def emulator(images: int, key: str) -> Iterator[str]:
    """The emulator in its own process (its CPU is not the host's), one project of ``images`` images."""
    spec = {
        ACCOUNT: {
            "projects_per_account": 1,
            "images_per_project": images,
            "iterations_per_project": 0,
            "predictions_per_project": 0,
        }
    }
    env = {
        **os.environ,
        "BENCH_EMULATOR_KEYS": json.dumps({ACCOUNT: key}),
        "BENCH_EMULATOR_ADMIN_TOKEN": secrets.token_hex(16),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.emulator_process", json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


class Bench:
    """One emulated project, a fresh export container, and the runtime the activities would use."""

    def __init__(self, base_url: str, key: str) -> None:
        os.environ["DSR_ALLOWED_ENDPOINT_ORIGINS"] = base_url
        os.environ["DSR_CV_RATE_LIMIT_PER_SECOND"] = "1000"  # the call bound is not what is measured
        self.key = key
        self.account = {"endpoint": base_url, "trainingKeySecret": "bench", "secretVersion": "0" * 32}
        self.fresh_container()
        self.project_id = self.client.get_projects()[0].id
        self.images: list[Image] = []
        self.originals: list[bytes] = []
        self.unit_files: list[dict[str, Any]] = []
        self.unit_request = ""
        self.large: list[str] = []
        """URIs of the large originals (``large_copy``)."""

    def fresh_container(self) -> None:
        """A new export container (and runtime on it): Azurite slows down as a container fills, and
        a phase should not wait on what the phases before it stored."""
        settings = load_settings()
        self.store = BlobExportStore.from_connection(
            settings.storage_connection, f"cpu-{uuid.uuid4().hex[:8]}", pool_size=STORE_POOL_SIZE
        )
        self.runtime = Runtime(settings=settings, secrets=KeyOnlySecrets(self.key), store=self.store)
        self.client: TrainingClient = self.runtime.client_for(self.account)  # type: ignore[arg-type]
        self.store.list_files("none/")  # creates the container outside the measured span

    def job(self, request_id: str) -> Job:
        return {
            "requestId": request_id,
            "operation": "export",
            "account": self.account,  # type: ignore[typeddict-item]
            "projectIds": [self.project_id],
            "categories": ["images"],
            "subject": None,
            "dryRun": False,
            "attempt": 1,
        }

    # -- the phases: each returns the number of images it handled -------------------------------------

    def listing(self) -> int:
        self.images = [image for page in self.client.iter_images(self.project_id) for image in page]
        return len(self.images)

    def download(self) -> int:
        self.originals = []
        for image in self.images:
            assert image.original_image_uri is not None
            with self.client.open_download(image.original_image_uri) as chunks:
                self.originals.append(b"".join(chunks))
        return len(self.originals)

    def sha256(self) -> int:
        for data in self.originals:
            hashlib.sha256(data).hexdigest()
        return len(self.originals)

    def upload(self) -> int:
        folder = f"upload-{uuid.uuid4().hex[:8]}"
        for image, data in zip(self.images, self.originals, strict=True):
            self.store.put_stream(f"{folder}/{image.id}.png", iter((data[:65536], data[65536:])), "image/png")
        return len(self.originals)

    def copy(self) -> int:
        folder = f"copy-{uuid.uuid4().hex[:8]}"
        for image in self.images:
            assert image.original_image_uri is not None
            copy_download(self.client, self.store, image.original_image_uri, f"{folder}/{image.id}")
        return len(self.images)

    def large_copy(self) -> int:
        folder = f"large-{uuid.uuid4().hex[:8]}"
        for n, uri in enumerate(self.large):
            copy_download(self.client, self.store, uri, f"{folder}/{n:04d}")
        return len(self.large)

    def records(self) -> int:
        folder = f"records-{uuid.uuid4().hex[:8]}"
        copies = {
            image.id: FileRef(f"{folder}/{image.id}.png", 20_000, "0" * 64, "image/png")
            for image in self.images
        }
        for start in range(0, len(self.images), RECORDS_PER_PART):
            part = self.images[start : start + RECORDS_PER_PART]
            put_ndjson(self.store, f"{folder}/images-{start:07d}.ndjson", _image_records(part, copies, None))
        return len(self.images)

    def unit(self) -> int:
        request_id = f"unit-{uuid.uuid4().hex[:8]}"
        job = self.job(request_id)
        with self.runtime.unit_client(job["account"]) as (client, _):
            iterations = {self.project_id: client.get_iterations(self.project_id)}
            record_account_listing(request_id, self.store, client.get_projects(), iterations)
        unit: Unit = {"category": "images", "projectId": self.project_id, "cursor": None}
        images = 0
        self.unit_files = []
        self.unit_request = request_id
        for result in unit_calls(run_export_unit, job, unit, self.runtime):
            images += result["counts"]["images"]
            self.unit_files.extend(result["files"])
        return images

    def package(self) -> int:
        tags = put_json(self.store, f"{self.unit_request}/export/tags.json", {self.project_id: []})
        parts = [FileRef(f["path"], f["bytes"], f["sha256"], f["contentType"]) for f in self.unit_files]
        document = finished_export(
            self.unit_request, {"id": self.project_id, "name": "bench"}, tags, parts, len(self.images)
        )
        write_export_package(self.store, self.store, document, datetime.now(UTC))
        return len(self.images)


PHASES = ("listing", "download", "sha256", "upload", "records", "copy", "unit", "package", "large_copy")


@dataclass(frozen=True)
class Run:
    cpu_ms: float
    """Process CPU (user + kernel) per image."""
    kernel_ms: float
    """Of which in the kernel (socket copies, mostly): not the app's Python."""
    wall_s: float
    images: int


def measure(phase: Callable[[], int]) -> Run:
    """One run of ``phase``, per image."""
    before, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    images = phase()
    after = resource.getrusage(resource.RUSAGE_SELF)
    user = after.ru_utime - before.ru_utime
    kernel = after.ru_stime - before.ru_stime
    per = 1000 / max(1, images)
    return Run((user + kernel) * per, kernel * per, time.monotonic() - wall, images)


class WorkerLikeHandler(logging.Handler):
    """Formats every record and drops it, as the Functions worker formats each INFO record to send to
    the host (devhost, by contrast, silences the Azure SDK's loggers)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


def profile(phase: Callable[[], int], top: int) -> None:
    # Timed by CPU, not by the clock: time spent waiting on a socket is not the host's cost.
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(phase)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> dict[str, list[Run]]:
    """Run every phase; print and return the runs of each."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=2_000)
    parser.add_argument("--profile", choices=PHASES, help="profile this phase afterwards")
    parser.add_argument("--large-count", type=int, default=10, help="large originals (large_copy)")
    parser.add_argument("--large-mib", type=float, default=6.0, help="their size (Custom Vision's max: 6)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase (median shown)")
    parser.add_argument("--top", type=int, default=30, help="functions the profile lists")
    parser.add_argument(
        "--no-worker-logging", action="store_true", help="leave logging off (default: INFO, as in Azure)"
    )
    args = parser.parse_args(argv)
    if not args.no_worker_logging:
        logging.getLogger().addHandler(WorkerLikeHandler())
        logging.getLogger().setLevel(logging.INFO)
    key = secrets.token_hex(16)
    large_size = int(args.large_mib * 2**20)
    with emulator(args.images, key) as base_url, large_originals(args.large_count, large_size) as large:
        bench = Bench(base_url, key)
        bench.large = large
        measured: dict[str, list[Run]] = {}
        for name in PHASES:
            runs = measured[name] = []
            for _ in range(args.repeat):
                if name != "package":  # the package step reads what the unit phase just wrote
                    bench.fresh_container()
                runs.append(measure(getattr(bench, name)))
            ms = sorted(run.cpu_ms for run in runs)
            kernel = statistics.median(run.kernel_ms for run in runs)
            wall = sum(run.wall_s for run in runs) / len(runs)
            print(
                f"{name:<10} {statistics.median(ms):7.3f} CPU ms/image (kernel {kernel:.3f}; min {ms[0]:.3f} "
                f"of {len(ms)} runs; {runs[0].images} images, wall {wall:5.1f} s a run)",
                flush=True,
            )
        size = sum(len(data) for data in bench.originals) / max(1, len(bench.originals))
        print(
            f"environment: {len(os.environ)} variables; logging at "
            f"{logging.getLevelName(logging.getLogger().getEffectiveLevel())}"
        )
        print(
            f"small originals {size:,.0f} bytes on average (every phase but large_copy); "
            f"large_copy: {len(bench.large)} originals of {args.large_mib:.1f} MiB"
        )
        if args.profile:
            profile(getattr(bench, args.profile), args.top)
    return measured


if __name__ == "__main__":
    main()
