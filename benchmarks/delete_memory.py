"""Benchmark: delete the images of one emulated project; report peak traced memory and where it is held.

A delete unit's receipt names every id it deleted, so some memory grows with the project; this shows
how much, at N/5 and N images in the same run, and the allocation sites of the larger run's peak (a
snapshot taken whenever traced memory passes its previous high by 5 %). Needs Azurite, as
``benchmarks.export_memory`` does.

    .venv/bin/python -m benchmarks.delete_memory [N]
"""

from __future__ import annotations

import sys
import threading
import time
import tracemalloc

from benchmarks.export_memory import seeded_project, unit_calls
from dsr.erasure import run_delete_unit

SAMPLE_SECONDS = 0.05


def delete_project(count: int) -> tuple[int, float, tracemalloc.Snapshot | None]:
    """(peak traced bytes, seconds, a snapshot near the peak) for deleting ``count`` images."""
    with seeded_project(count, "delete") as (runtime, job, unit):
        tracemalloc.start()
        peak_snapshot: list[tracemalloc.Snapshot] = []
        done = threading.Event()

        def sample() -> None:
            high = 0
            while not done.wait(SAMPLE_SECONDS):
                current = tracemalloc.get_traced_memory()[0]
                if current > high * 1.05:
                    high = current
                    peak_snapshot[:] = [tracemalloc.take_snapshot()]

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        *_, result = unit_calls(run_delete_unit, job, unit, runtime)
        elapsed = time.monotonic() - started
        done.set()
        sampler.join()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if result["verified"] is not True:
        raise RuntimeError(f"the delete did not verify: {result}")
    return peak, elapsed, peak_snapshot[0] if peak_snapshot else None


def main(count: int) -> dict[int, int]:
    """Print the figures; returns the peak traced bytes per image count (the smoke test reads them)."""
    small = max(1, count // 5)
    peaks: dict[int, int] = {}
    for images in (small, count):
        peak, seconds, snapshot = delete_project(images)
        peaks[images] = peak
        print(f"images={images} seconds={seconds:.2f} peak_traced_mib={peak / 2**20:.1f}")
    print(f"peak memory ratio {count}/{small} images = {peaks[count] / peaks[small]:.2f}")
    if snapshot is not None:
        print(f"largest allocation sites near the peak of {count} images:")
        for stat in snapshot.statistics("lineno")[:12]:
            print(f"  {stat.size / 2**20:6.2f} MiB  {stat.count:7d} blocks  {stat.traceback[0]}")
    return peaks


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 25_000)
