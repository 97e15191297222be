"""Memory of one image-export call must not grow with the project: a call holds its own pages, not
every id the project has exported so far (at 100k images that set was 25k ids per call, four calls at
a time)."""

from __future__ import annotations

import random
import threading
import time
import tracemalloc
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from dsr import export
from dsr.export import COPY_WINDOW, run_export_unit
from dsr.runtime import DOWNLOAD_CONCURRENCY
from dsr.storage import FileRef, StorageUnavailableError
from dsr.units import Job
from emulator.seed import _Ids, add_images
from tests.functional.conftest import SPEC, World, item_counts, unit

HELD_BY_ITERATIONS = 256
"""Images each trained iteration holds in both runs, so only the workspace's size differs."""


def _traced_peak_of_iteration_pass(world: World, workspace_images: int, seed: int) -> int:
    pid = sorted(world.account.projects)[0]
    project = world.account.projects[pid]
    rng = random.Random(seed)
    added = add_images(project, workspace_images, _Ids(rng), rng, spec=SPEC, tag_ids=[])
    for iteration in project.iterations.values():
        iteration.image_ids = {image.id for image in added[:HELD_BY_ITERATIONS]}
    project.changed()
    job = {**world.job("export"), "requestId": f"memory-{workspace_images}", "categories": ["images"]}
    world.prepare_export(job)  # type: ignore[arg-type]
    images = unit("images", pid)
    while True:  # the whole export, so the workspace's ids are on record
        result = run_export_unit(job, images, world.runtime())  # type: ignore[arg-type]
        assert result["state"] == "succeeded", result
        if result["next"] is None:
            break
        images["cursor"] = result["next"]
    # The first trained iteration's pass again, as Durable retries it: it checks what that iteration
    # holds against everything exported before it.
    first = min(i.id for i in project.iterations.values() if i.status == "Completed")
    (run,) = {p.split("/run-")[1].split("/")[0] for p in world.store.files if f"/work/{pid}/run-" in p}
    images["cursor"] = f"{run}/i:{first}:0"  # the same run of the unit
    tracemalloc.start()
    try:
        result = run_export_unit(job, images, world.runtime())  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result["state"] == "succeeded", result
    assert result["next"] is None  # both iteration passes fit one call
    return peak


def _no_copy(client, store, uri, path_without_ext):
    """What the copy would return, without the bytes: this measures listing, and copying thousands
    of images would take most of the test's time."""
    return FileRef(path_without_ext + ".png", 1, "0" * 64, "image/png")


def test_an_iteration_pass_holds_its_own_pages_not_the_projects_exported_ids(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "copy_download", _no_copy)
    small = _traced_peak_of_iteration_pass(world, 1_000, seed=1)
    world.store.files.clear()
    for project in world.account.projects.values():
        project.images.clear()
    large = _traced_peak_of_iteration_pass(world, 16_000, seed=2)
    assert large < 1.3 * small, f"peak {large} bytes beside 16,000 workspace images, {small} beside 1,000"


class _CountingPool(ThreadPoolExecutor):
    """The download pool, counting the copies queued or running on it at once."""

    def __init__(self) -> None:
        super().__init__(DOWNLOAD_CONCURRENCY, thread_name_prefix="test-download")
        self._lock = threading.Lock()
        self.outstanding = 0
        self.most = 0

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self.outstanding += 1
            self.most = max(self.most, self.outstanding)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[object]) -> None:
        with self._lock:
            self.outstanding -= 1


def _images_only_export(world: World, images: int, *, seed: int) -> tuple[str, Job]:
    """The first project with ``images`` more workspace images, and an export of its images, resolved."""
    pid = sorted(world.account.projects)[0]
    rng = random.Random(seed)
    add_images(world.account.projects[pid], images, _Ids(rng), rng, spec=SPEC, tag_ids=[])
    job: Job = {**world.job("export"), "categories": ["images"]}
    world.prepare_export(job)
    return pid, job


def test_a_call_queues_a_bounded_number_of_copies_however_many_images_it_lists(world: World) -> None:
    # A call lists 2,048 images before its last copy is done; a future per image queued at once held
    # 1.5 kB each (futures, their locks, work items), 12 MiB for four calls.
    pid, job = _images_only_export(world, 2_000, seed=3)
    project = world.account.projects[pid]
    runtime = world.runtime()
    pool = runtime._downloads = _CountingPool()
    try:
        result = run_export_unit(job, unit("images", pid), runtime)
    finally:
        pool.shutdown()
    assert result["state"] == "succeeded", result
    assert item_counts(result)["images"] == len(project.images)
    assert item_counts(result)["imagesWithoutFile"] == 0
    # A copy counts here until its function returns, and it starts the next one just before that.
    assert pool.most <= COPY_WINDOW + DOWNLOAD_CONCURRENCY, f"{pool.most} copies queued at once"


def test_a_failed_copy_fails_the_call_and_starts_no_more(world: World, monkeypatch) -> None:
    pid, job = _images_only_export(world, 600, seed=4)
    started: list[str] = []
    real_copy = export.copy_download

    def failing_copy(client, store, uri, path):
        started.append(path)
        if len(started) == 5:
            raise StorageUnavailableError("the export container is unreachable")
        return real_copy(client, store, uri, path)

    monkeypatch.setattr(export, "copy_download", failing_copy)
    with pytest.raises(StorageUnavailableError):
        run_export_unit(job, unit("images", pid), world.runtime())
    at_failure = len(started)
    time.sleep(0.5)
    assert len(started) == at_failure, "copies went on after the call had failed"
    assert at_failure < 640 // 2, f"{at_failure} of 640 copies started"
