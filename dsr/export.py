"""Export: each category's data written to the request's folder in the export container.

Layout under ``<requestId>/export/``: one JSON document per small category, NDJSON parts for lists that
grow with the account (images, predictions, image performances), and the original bytes of every
exported image next to its record. Nothing here ever writes a training key: account info carries only
a fingerprint of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache, partial
from typing import Any

from dsr.categories import Category
from dsr.customvision import TrainingClient
from dsr.customvision.client import PAGE_SIZE
from dsr.customvision.errors import NotFoundError
from dsr.runtime import Runtime
from dsr.signed_links import unsigned
from dsr.storage import ExportStore, FileRef, put_json, put_ndjson
from dsr.subjects import subject_metadata
from dsr.units import Job, Unit, UnitResult, empty_result

PAGES_PER_UNIT = 8
"""Image pages (of 256) one activity call exports before handing back a cursor."""
DOWNLOAD_WORKERS = 4
"""Concurrent image downloads per activity; blob URIs are not subject to the Training API rate limit."""
KEY_FINGERPRINT_HEX = 16

_IMAGE_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png", "image/png"),
    (b"\xff\xd8\xff", ".jpg", "image/jpeg"),
    (b"GIF8", ".gif", "image/gif"),
    (b"BM", ".bmp", "image/bmp"),
)


def export_root(request_id: str) -> str:
    return f"{request_id}/export"


def _path(job: Job, name: str) -> str:
    return f"{export_root(job['requestId'])}/{name}"


def _sniff(first: bytes) -> tuple[str, str]:
    for signature, extension, content_type in _IMAGE_SIGNATURES:
        if first.startswith(signature):
            return extension, content_type
    return ".bin", "application/octet-stream"


def copy_download(client: TrainingClient, store: ExportStore, uri: str, path_without_ext: str) -> FileRef:
    """Stream one image from its (key-less) URI into the store, naming it by its detected type."""
    with client.open_download(uri) as chunks:
        iterator = iter(chunks)
        first = next(iterator, b"")
        extension, content_type = _sniff(first)

        def rest() -> Iterator[bytes]:
            yield first
            yield from iterator

        return store.put_stream(path_without_ext + extension, rest(), content_type)


def _result(unit: Unit, counts: dict[str, int], files: list[FileRef], nxt: str | None = None) -> UnitResult:
    result = empty_result(unit, "succeeded")
    result["counts"] = counts
    result["files"] = [dict(f.to_json()) for f in files]
    result["next"] = nxt
    return result


def _export_account_info(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    key = runtime.secrets.get_secret(job["account"]["trainingKeySecret"], job["account"]["secretVersion"])
    projects = client.get_projects()
    document = {
        "endpoint": job["account"]["endpoint"],
        "trainingKeySecret": job["account"]["trainingKeySecret"],
        "trainingKeySecretVersion": job["account"]["secretVersion"],
        "trainingKeyFingerprint": "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:KEY_FINGERPRINT_HEX],
        "apiVersion": "3.3",
        "projectCount": len(projects),
        "note": (
            "Training API v3.x has no GetAccountInfo; this lists what the API makes knowable. "
            "Keys are never exported: manage them in the Azure portal."
        ),
    }
    return _result(
        unit,
        {"projects": len(projects)},
        [put_json(runtime.store, _path(job, "account-info.json"), document)],
    )


def _export_projects(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    documents = []
    for pid in job["projectIds"]:
        project = client.get_project(pid)
        counts = client.get_project_export_counts(pid)
        # ExportProject's import token lets anyone copy the project into another resource: a credential.
        counts_without_token = {k: v for k, v in counts.raw.items() if k != "token"}
        documents.append(unsigned({"project": project.raw, "counts": counts_without_token}))
    ref = put_json(runtime.store, _path(job, "projects.json"), documents)
    return _result(unit, {"projects": len(documents)}, [ref])


ITERATION_LIST_FIELDS = ("id", "name", "status", "created", "lastModified", "trainedAt", "publishName")
"""The list's own fact: which iterations exist. Their full records are iteration-details.json."""


def _export_iteration_list(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    listing = {
        pid: [
            {f: it.raw[f] for f in ITERATION_LIST_FIELDS if f in it.raw} for it in client.get_iterations(pid)
        ]
        for pid in job["projectIds"]
    }
    ref = put_json(runtime.store, _path(job, "iterations.json"), listing)
    return _result(unit, {"iterations": sum(len(v) for v in listing.values())}, [ref])


def _export_iteration_details(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    details: dict[str, list[dict[str, Any]]] = {}
    for pid in job["projectIds"]:
        details[pid] = [client.get_iteration(pid, it.id).raw for it in client.get_iterations(pid)]
    ref = put_json(runtime.store, _path(job, "iteration-details.json"), details)
    return _result(unit, {"iterations": sum(len(v) for v in details.values())}, [ref])


def trained(status: str | None) -> bool:
    """Whether an iteration finished training (only those have performance data and images)."""
    return (status or "").lower() == "completed"


def _export_iteration_performance(
    job: Job, unit: Unit, runtime: Runtime, client: TrainingClient
) -> UnitResult:
    summaries: list[dict[str, Any]] = []
    image_count = 0

    def image_records() -> Iterator[dict[str, Any]]:
        nonlocal image_count
        for pid in job["projectIds"]:
            for iteration in client.get_iterations(pid):
                if not trained(iteration.status):
                    continue
                performance = client.get_iteration_performance(pid, iteration.id)
                summaries.append(
                    {"projectId": pid, "iterationId": iteration.id, "performance": performance.raw}
                )
                for page in client.iter_image_performances(pid, iteration.id):
                    for item in page:
                        image_count += 1
                        yield unsigned(
                            {"projectId": pid, "iterationId": iteration.id, "imagePerformance": item.raw}
                        )

    images_ref = put_ndjson(runtime.store, _path(job, "iteration-performance-images.ndjson"), image_records())
    summary_ref = put_json(runtime.store, _path(job, "iteration-performance.json"), summaries)
    return _result(
        unit, {"iterations": len(summaries), "imagePerformances": image_count}, [summary_ref, images_ref]
    )


def _export_tags(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    tags = {pid: [tag.raw for tag in client.get_tags(pid)] for pid in job["projectIds"]}
    ref = put_json(runtime.store, _path(job, "tags.json"), tags)
    return _result(unit, {"tags": sum(len(v) for v in tags.values())}, [ref])


def _export_models(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    exports: list[dict[str, Any]] = []
    for pid in job["projectIds"]:
        for iteration in client.get_iterations(pid):
            for export in client.get_exports(pid, iteration.id):
                exports.append(
                    unsigned({"projectId": pid, "iterationId": iteration.id, "export": export.raw})
                )
    ref = put_json(runtime.store, _path(job, "exported-models.json"), exports)
    return _result(unit, {"exports": len(exports)}, [ref])


def _copy_originals(
    client: TrainingClient, store: ExportStore, items: list[tuple[str, str | None]], folder: str
) -> dict[str, FileRef]:
    """Copy ``(id, original URI)`` pairs concurrently; returns the file written for each id."""

    def copy(item: tuple[str, str | None]) -> tuple[str, FileRef | None]:
        item_id, uri = item
        if not uri:
            return item_id, None
        try:
            return item_id, copy_download(client, store, uri, f"{folder}/{item_id}")
        except NotFoundError:
            # Deleted between listing and download: its record stays, with no file.
            return item_id, None

    with ThreadPoolExecutor(max_workers=DOWNLOAD_WORKERS) as pool:
        return {item_id: ref for item_id, ref in pool.map(copy, items) if ref is not None}


def _exported_file(ref: FileRef | None) -> dict[str, Any]:
    """Where a record's bytes were copied, with their size and sha256 (the manifest is built from these)."""
    if ref is None:
        return {"exportedFile": None}
    return {"exportedFile": ref.path, "exportedFileBytes": ref.size, "exportedFileSha256": ref.sha256}


def _image_cursor(cursor: str | None) -> tuple[str | None, int]:
    """``(iteration id, or None for the workspace; skip)`` from ``w:<skip>`` / ``i:<iteration>:<skip>``."""
    if not cursor:
        return None, 0
    kind, _, rest = cursor.partition(":")
    if kind == "w":
        return None, int(rest)
    iteration_id, _, skip = rest.rpartition(":")
    return iteration_id, int(skip)


def _trained_iteration_ids(client: TrainingClient, pid: str) -> list[str]:
    return sorted(it.id for it in client.get_iterations(pid) if trained(it.status))


def _next_image_cursor(
    trained_ids: Callable[[], list[str]], iteration_id: str | None, skip: int | None
) -> str | None:
    """Where the next call starts: further into this listing (``skip``), else the next trained
    iteration (in id order, so a restarted call finds its place), else ``None``: done."""
    if skip is not None:
        return f"w:{skip}" if iteration_id is None else f"i:{iteration_id}:{skip}"
    following = [i for i in trained_ids() if iteration_id is None or i > iteration_id]
    return f"i:{following[0]}:0" if following else None


def _export_images_page(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    """Up to PAGES_PER_UNIT pages of images with their original bytes.

    First the workspace; then, per trained iteration, the images that are no longer in the workspace
    but still held by that iteration (deleted without ``allIterations``): still the customer's data.
    """
    pid = unit["projectId"]
    assert pid is not None  # planned per project
    iteration_id, start = _image_cursor(unit["cursor"])
    metadata = subject_metadata(job, runtime.store)
    images: list[Any] = []
    exhausted = True
    for page in client.iter_images(pid, metadata=metadata, iteration_id=iteration_id, skip=start):
        images.extend(page)
        if len(images) >= PAGES_PER_UNIT * PAGE_SIZE:
            exhausted = len(page) < PAGE_SIZE
            break
    listed = len(images)
    trained_ids = cache(partial(_trained_iteration_ids, client, pid))  # at most one GetIterations per call
    if iteration_id is not None and images:
        # Keep only images the workspace lost, and each of them once: skip those an earlier iteration
        # (in id order) also holds, since that iteration's call exports them.
        elsewhere: list[str | None] = [None]
        elsewhere += [i for i in trained_ids() if i < iteration_id]
        for other in elsewhere:
            held = {i.id for i in client.get_images_by_ids(pid, [i.id for i in images], iteration_id=other)}
            images = [i for i in images if i.id not in held]
    folder = _path(job, f"images/{pid}")
    copies = _copy_originals(client, runtime.store, [(i.id, i.original_image_uri) for i in images], folder)
    records = [
        unsigned({**image.raw, **_exported_file(copies.get(image.id)), "onlyInIteration": iteration_id})
        for image in images
    ]
    files: list[FileRef] = []
    if records or (iteration_id is None and start == 0):
        name = "images" if iteration_id is None else f"iteration-{iteration_id}-images"
        files.append(put_ndjson(runtime.store, f"{folder}/{name}-{start:07d}.ndjson", records))
    counts = {
        "images": len(records),
        "imagesWithoutFile": len(records) - len(copies),
        "bytesCopied": sum(ref.size for ref in copies.values()),
    }
    nxt = _next_image_cursor(trained_ids, iteration_id, None if exhausted else start + listed)
    return _result(unit, counts, files, nxt)


def prediction_window(job: Job) -> tuple[str | None, datetime | None, datetime | None] | None:
    """The caller's narrowing of stored predictions, or ``None`` when a subject request gave none."""
    if job["subject"] is None:
        return (None, None, None)
    narrowing = job["subject"]["predictions"]
    if narrowing is None:
        return None

    def moment(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))

    return narrowing.get("application"), moment(narrowing.get("from")), moment(narrowing.get("to"))


NOT_ATTRIBUTABLE_NOTE = (
    "Stored predictions carry no image metadata, so they cannot be matched to a data subject. "
    "Give subject.predictions (application and/or from/to) to include the predictions you can attribute."
)


def _export_predictions(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    window = prediction_window(job)
    if window is None:
        return empty_result(unit, "not_attributable", NOT_ATTRIBUTABLE_NOTE)
    application, start, end = window
    folder = _path(job, f"predictions/{pid}")
    records: list[dict[str, Any]] = []
    copied = 0
    for page in client.iter_predictions(pid, application=application, start_time=start, end_time=end):
        copies = _copy_originals(client, runtime.store, [(p.id, p.original_image_uri) for p in page], folder)
        copied += sum(ref.size for ref in copies.values())
        records.extend(unsigned({**p.raw, **_exported_file(copies.get(p.id))}) for p in page)
    ref = put_ndjson(runtime.store, f"{folder}/predictions.ndjson", records)
    return _result(unit, {"predictions": len(records), "bytesCopied": copied}, [ref])


UnitHandler = Callable[[Job, Unit, Runtime, TrainingClient], UnitResult]


def run_with_handlers(
    handlers: Mapping[str, UnitHandler],
    job: Job,
    unit: Unit,
    runtime: Runtime,
    project_gone: Callable[[], UnitResult],
) -> UnitResult:
    """Run the unit's handler; a per-project unit whose project has vanished gets ``project_gone()``."""
    client = runtime.client_for(job["account"])
    try:
        return handlers[unit["category"]](job, unit, runtime, client)
    except NotFoundError:
        if unit["projectId"] is None or project_exists(client, unit["projectId"]):
            raise
        return project_gone()


EXPORTERS: dict[str, UnitHandler] = {
    Category.ACCOUNT_INFO: _export_account_info,
    Category.PROJECTS: _export_projects,
    Category.ITERATION_LIST: _export_iteration_list,
    Category.ITERATION_DETAILS: _export_iteration_details,
    Category.ITERATION_PERFORMANCE: _export_iteration_performance,
    Category.TAGS: _export_tags,
    Category.EXPORTED_MODELS: _export_models,
    Category.IMAGES: _export_images_page,
    Category.PREDICTIONS: _export_predictions,
}


def run_export_unit(job: Job, unit: Unit, runtime: Runtime) -> UnitResult:
    """Export one unit; raises on failure so the activity's retry policy can act."""
    # A project that vanished between resolution and export has nothing left to export.
    return run_with_handlers(
        EXPORTERS, job, unit, runtime, lambda: empty_result(unit, "succeeded", "project no longer exists")
    )


def project_exists(client: TrainingClient, project_id: str) -> bool:
    try:
        client.get_project(project_id)
    except NotFoundError:
        return False
    return True
