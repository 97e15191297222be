"""Benchmark: export the images of one emulated project into Azurite; report throughput and peak memory.

Memory must stay flat as the image count grows (images are streamed, records go to NDJSON parts of at
most 2,048 images per activity call), so the figure that matters is the ratio of peak memory at N
images to peak memory at N/5, measured in the same run. Needs Azurite: start it with devstack and
``eval "$(python -m devstack env)"`` first.

    .venv/bin/python -m benchmarks.export_memory [N]
"""

from __future__ import annotations

import os
import random
import secrets
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from dsr.config import load_settings
from dsr.export import record_account_listing, run_export_unit
from dsr.runtime import STORE_POOL_SIZE, Runtime
from dsr.storage import BlobExportStore
from dsr.units import Job, Unit, UnitResult
from emulator import EmulatorServer, SeedSpec, build_state
from emulator.seed import _Ids, add_images
from tests.functional.fakes import KeyOnlySecrets


@contextmanager
def seeded_project(count: int, operation: Literal["export", "delete"]) -> Iterator[tuple[Runtime, Job, Unit]]:
    """An emulated project of ``count`` images, a runtime on Azurite, and an images unit of ``operation``."""
    key = secrets.token_hex(16)
    spec = SeedSpec(
        projects_per_account=1, images_per_project=0, iterations_per_project=0, predictions_per_project=0
    )
    state = build_state(spec, {"account-1": key})
    project = next(iter(state.account("account-1").projects.values()))
    add_images(project, count, _Ids(random.Random(1)), random.Random(2), spec=SeedSpec(), tag_ids=[])
    with EmulatorServer(state) as server:
        os.environ["DSR_ALLOWED_ENDPOINT_ORIGINS"] = server.base_url
        os.environ["DSR_CV_RATE_LIMIT_PER_SECOND"] = "1000"
        settings = load_settings()
        store = BlobExportStore.from_connection(
            settings.storage_connection, f"bench-{uuid.uuid4().hex[:8]}", pool_size=STORE_POOL_SIZE
        )
        runtime = Runtime(settings=settings, secrets=KeyOnlySecrets(key), store=store)
        job: Job = {
            "requestId": "bench",
            "operation": operation,
            "account": {"endpoint": server.base_url, "trainingKeySecret": "bench", "secretVersion": "0" * 32},
            "projectIds": [project.id],
            "categories": ["images"],
            "subject": None,
            "dryRun": False,
            "attempt": 1,
        }
        unit: Unit = {"category": "images", "projectId": project.id, "cursor": None}
        with runtime.unit_client(job["account"]) as (client, _):
            iterations = {project.id: client.get_iterations(project.id)}
            record_account_listing("bench", store, client.get_projects(), iterations)
        yield runtime, job, unit


def unit_calls(
    run: Callable[[Job, Unit, Runtime], UnitResult], job: Job, unit: Unit, runtime: Runtime
) -> Iterator[UnitResult]:
    """Each call's result while ``run`` hands back a cursor, as ``dsr_paged_unit`` calls a unit."""
    while True:
        result = run(job, unit, runtime)
        yield result
        if result["next"] is None:
            return
        unit["cursor"] = result["next"]


def export_project(count: int, *, trace: bool) -> tuple[int, float, float]:
    """(peak traced bytes or 0, seconds, MB copied) for exporting ``count`` images.

    tracemalloc slows Python several times over, so time and memory come from separate runs.
    """
    with seeded_project(count, "export") as (runtime, job, unit):
        if trace:
            tracemalloc.start()
        started = time.monotonic()
        copied = sum(
            result["counts"]["bytesCopied"] for result in unit_calls(run_export_unit, job, unit, runtime)
        )
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
    return peak, elapsed, copied / 1e6


def main(count: int) -> None:
    small = max(1, count // 5)
    for images in (small, count):
        _, seconds, megabytes = export_project(images, trace=False)
        peak, _, _ = export_project(images, trace=True)
        print(
            f"images={images} seconds={seconds:.2f} images_per_s={images / seconds:.0f} "
            f"copied_mb={megabytes:.1f} peak_traced_mib={peak / 2**20:.1f}"
        )
        if images == small:
            base_peak, base_rate = peak, images / seconds
    print(f"peak memory ratio {count}/{small} images = {peak / base_peak:.2f} (flat: close to 1)")
    print(f"throughput ratio = {(count / seconds) / base_rate:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000)
