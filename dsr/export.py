"""Export: each category's data written to the request's folder in the export container.

Layout under ``<requestId>/export/`` (spelled in :mod:`dsr.layout`): one JSON document per small
category, NDJSON parts for lists that grow with the account (images, predictions, image
performances), and the original bytes of every exported image next to its record. Nothing here
ever writes a training key: account info carries only a fingerprint of it.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dsr import layout
from dsr.categories import Category
from dsr.customvision import (
    PAGE_SIZE,
    Image,
    ImagePerformance,
    Iteration,
    NotFoundError,
    Project,
    StoredImagePrediction,
    TrainingClient,
)
from dsr.runtime import DOWNLOAD_CONCURRENCY, Runtime
from dsr.signed_links import unsigned
from dsr.storage import DOCUMENT_BLOCK_SIZE, ExportStore, FileRef, get_json, put_json, put_ndjson
from dsr.subjects import NOT_ATTRIBUTABLE_NOTE, prediction_window, subject_metadata
from dsr.unit_runner import UnitHandler, iteration_gone, project_exists, run_with_handlers, trained
from dsr.units import Job, Unit, UnitResult, empty_result

PAGES_PER_UNIT = 8
"""Image pages (of 256) one activity call exports before handing back a cursor."""
KEY_FINGERPRINT_HEX = 16
T = TypeVar("T")

_IMAGE_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png", "image/png"),
    (b"\xff\xd8\xff", ".jpg", "image/jpeg"),
    (b"GIF8", ".gif", "image/gif"),
    (b"BM", ".bmp", "image/bmp"),
)


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


def _category_file(job: Job, category: Category) -> str:
    return layout.category_file(job["requestId"], category)


def _result(
    unit: Unit,
    counts: dict[str, int],
    files: list[FileRef],
    nxt: str | None = None,
    *,
    note: str | None = None,
) -> UnitResult:
    result = empty_result(unit, "succeeded", note)
    result["counts"] = counts
    result["files"] = [dict(f.to_json()) for f in files]
    result["next"] = nxt
    return result


# -- the account listing, made once per request -----------------------------------------------------


def record_account_listing(
    request_id: str, store: ExportStore, projects: list[Project], iterations: Mapping[str, list[Iteration]]
) -> None:
    """Keep the project listing and the iterations of each in-scope project (the keys of
    ``iterations``), each listed once, for every unit of the request: no unit lists them again."""
    document = {
        "projectCount": len(projects),
        # Kept without signed links, like everything exported from it: a working file is no place for
        # credentials either.
        "projects": [unsigned(p.raw) for p in projects if p.id in iterations],
        "iterations": {pid: [unsigned(it.raw) for it in listed] for pid, listed in iterations.items()},
    }
    put_json(store, layout.account_listing(request_id), document)


def _listing(job: Job, runtime: Runtime) -> dict[str, Any]:
    listing: dict[str, Any] = get_json(runtime.store, layout.account_listing(job["requestId"]))
    return listing


def _trained_ids(listing: dict[str, Any], pid: str) -> list[str]:
    return sorted(str(it["id"]) for it in listing["iterations"].get(pid, []) if trained(it.get("status")))


@dataclass
class _Gone:
    """Projects and iterations deleted while the export ran: nothing of them is exported, and the
    unit's note names them."""

    projects: list[str] = field(default_factory=list)
    iterations: list[str] = field(default_factory=list)

    @property
    def note(self) -> str | None:
        named = [f"project {p}" for p in self.projects] + [
            f"iteration {i}" for i in dict.fromkeys(self.iterations)
        ]
        if not named:
            return None
        return "deleted while the export ran, so nothing more of it is exported: " + ", ".join(named)


def _per_project(
    client: TrainingClient, project_ids: list[str], gone: _Gone, export: Callable[[str], T]
) -> dict[str, T]:
    """``export`` each project in turn. One deleted since resolution (its NotFound, and GetProject's)
    leaves the others to export and goes into ``gone``; any other NotFound fails the unit."""
    exported: dict[str, T] = {}
    for pid in project_ids:
        try:
            exported[pid] = export(pid)
        except NotFoundError:
            if project_exists(client, pid):
                raise
            gone.projects.append(pid)
    return exported


def _per_iteration(iteration_ids: list[str], gone: _Gone, export: Callable[[str], T]) -> dict[str, T]:
    """``export`` each iteration in turn; one deleted since it was listed goes into ``gone``."""
    exported: dict[str, T] = {}
    for iid in iteration_ids:
        try:
            exported[iid] = export(iid)
        except NotFoundError as exc:
            if not iteration_gone(exc):
                raise
            gone.iterations.append(iid)
    return exported


# -- small categories -----------------------------------------------------------------------------


def _export_account_info(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    key = runtime.secrets.get_secret(job["account"]["trainingKeySecret"], job["account"]["secretVersion"])
    project_count = int(_listing(job, runtime)["projectCount"])
    document = {
        "endpoint": job["account"]["endpoint"],
        "trainingKeySecret": job["account"]["trainingKeySecret"],
        "trainingKeySecretVersion": job["account"]["secretVersion"],
        "trainingKeyFingerprint": "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:KEY_FINGERPRINT_HEX],
        "apiVersion": "3.3",
        "projectCount": project_count,
        "note": (
            "Training API v3.x has no GetAccountInfo; this lists what the API makes knowable. "
            "Keys are never exported: manage them in the Azure portal."
        ),
    }
    return _result(
        unit,
        {"projects": project_count},
        [put_json(runtime.store, _category_file(job, Category.ACCOUNT_INFO), document)],
    )


def _export_projects(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    listed = {str(p["id"]): p for p in _listing(job, runtime)["projects"]}

    def document(pid: str) -> Any:
        counts = client.get_project_export_counts(pid)
        # ExportProject's import token lets anyone copy the project into another resource: a credential.
        counts_without_token = {k: v for k, v in counts.raw.items() if k != "token"}
        return unsigned({"project": listed[pid], "counts": counts_without_token})

    gone = _Gone()
    documents = list(_per_project(client, job["projectIds"], gone, document).values())
    ref = put_json(runtime.store, _category_file(job, Category.PROJECTS), documents)
    return _result(unit, {"projects": len(documents)}, [ref], note=gone.note)


ITERATION_LIST_FIELDS = ("id", "name", "status", "created", "lastModified", "trainedAt", "publishName")
"""The list's own fact: which iterations exist. Their full records are iteration-details.json."""


def _iterations_file(
    job: Job, unit: Unit, runtime: Runtime, category: Category, fields: tuple[str, ...] | None
) -> UnitResult:
    # GetIterations returns the same objects as GetIteration: the one listing serves both files.
    iterations = _listing(job, runtime)["iterations"]
    listing = {
        pid: [
            it if fields is None else {f: it[f] for f in fields if f in it} for it in iterations.get(pid, [])
        ]
        for pid in job["projectIds"]
    }
    ref = put_json(runtime.store, _category_file(job, category), listing)
    return _result(unit, {"iterations": sum(len(v) for v in listing.values())}, [ref])


def _export_iteration_list(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    return _iterations_file(job, unit, runtime, Category.ITERATION_LIST, ITERATION_LIST_FIELDS)


def _export_iteration_details(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    return _iterations_file(job, unit, runtime, Category.ITERATION_DETAILS, None)


def _export_tags(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    gone = _Gone()
    tags = _per_project(
        client, job["projectIds"], gone, lambda pid: [tag.raw for tag in client.get_tags(pid)]
    )
    ref = put_json(runtime.store, _category_file(job, Category.TAGS), tags)
    return _result(unit, {"tags": sum(len(v) for v in tags.values())}, [ref], note=gone.note)


def _export_models(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    listing = _listing(job, runtime)

    gone = _Gone()

    def iteration_exports(pid: str, iid: str) -> list[dict[str, Any]]:
        return [
            unsigned({"projectId": pid, "iterationId": iid, "export": export.raw})
            for export in client.get_exports(pid, iid)
        ]

    def project_exports(pid: str) -> list[dict[str, Any]]:
        # Only a trained iteration can be exported.
        found = _per_iteration(_trained_ids(listing, pid), gone, lambda iid: iteration_exports(pid, iid))
        return [export for exports in found.values() for export in exports]

    per_project = _per_project(client, job["projectIds"], gone, project_exports)
    exports = [export for found in per_project.values() for export in found]
    ref = put_json(runtime.store, _category_file(job, Category.EXPORTED_MODELS), exports)
    return _result(unit, {"exports": len(exports)}, [ref], note=gone.note)


# -- iteration performance --------------------------------------------------------------------------


def performance_shared_with_images(job: Job) -> bool:
    """Whether the image units also write iteration performance, from the one listing of each trained
    iteration that both need. A subject-scoped image export lists only the subject's images, and
    iteration performance is never subject-scoped, so then each lists for itself."""
    return (
        job["subject"] is None
        and Category.IMAGES in job["categories"]
        and Category.ITERATION_PERFORMANCE in job["categories"]
    )


def _performance_summary(job: Job, runtime: Runtime, client: TrainingClient, pid: str, iid: str) -> FileRef:
    performance = client.get_iteration_performance(pid, iid)
    document = {"projectId": pid, "iterationId": iid, "performance": performance.raw}
    return put_json(runtime.store, layout.performance_summary(job["requestId"], pid, iid), document)


def _performance_part(
    job: Job, runtime: Runtime, pid: str, iid: str, start: int, items: list[ImagePerformance]
) -> FileRef:
    records = (
        unsigned({"projectId": pid, "iterationId": iid, "imagePerformance": item.raw}) for item in items
    )
    return put_ndjson(runtime.store, layout.performance_part(job["requestId"], pid, iid, start), records)


def _export_iteration_performance(
    job: Job, unit: Unit, runtime: Runtime, client: TrainingClient
) -> UnitResult:
    """Every trained iteration's performance and per-image results (when no image unit does it).

    A subject-scoped export gets the iterations' own performance only: the per-image results cover
    every image an iteration holds and carry no metadata to select the subject's by.
    """
    listing = _listing(job, runtime)
    per_image = job["subject"] is None
    gone = _Gone()

    def iteration_performance(pid: str, iid: str) -> tuple[list[FileRef], int]:
        files = [_performance_summary(job, runtime, client, pid, iid)]
        if not per_image:
            return files, 0
        items = [item for page in client.iter_image_performances(pid, iid) for item in page]
        return [*files, _performance_part(job, runtime, pid, iid, 0, items)], len(items)

    def project_performance(pid: str) -> dict[str, tuple[list[FileRef], int]]:
        return _per_iteration(_trained_ids(listing, pid), gone, lambda iid: iteration_performance(pid, iid))

    # A project or iteration deleted part-way leaves the files written for it before that, which the
    # export container's retention deletes with the rest; the result lists only whole ones.
    done = [
        found
        for per_iteration in _per_project(client, job["projectIds"], gone, project_performance).values()
        for found in per_iteration.values()
    ]
    counts = {"iterations": len(done), "imagePerformances": sum(count for _, count in done)}
    files = [ref for found, _ in done for ref in found]
    notes = [gone.note, None if per_image else SUBJECT_PERFORMANCE_NOTE]
    return _result(unit, counts, files, note=" ".join(filter(None, notes)) or None)


SUBJECT_PERFORMANCE_NOTE = (
    "per-image results are left out of a subject-scoped export: they cover every image of an "
    "iteration, other people's too, and carry no metadata to select the subject's by"
)


# -- images ---------------------------------------------------------------------------------------


COPY_WINDOW = 2 * DOWNLOAD_CONCURRENCY
"""Copies one unit call keeps queued or running on the download threads: enough to keep them all busy
on its own, few enough that the rest of what it listed waits as (id, uri) pairs, not futures."""


class _Copies:
    """Original bytes copied on the process's download threads while the caller lists the next page.

    A call lists up to 2,048 images before its copies are done. Queuing a future for each at once held
    1.5 kB per image (future, lock, work item), 12 MiB for four calls; so at most COPY_WINDOW are on
    the threads, and each copy that ends starts the next waiting one. The first failure stops new
    copies and is raised by :meth:`finish` once those running have ended.
    """

    def __init__(self, client: TrainingClient, runtime: Runtime, folder: str) -> None:
        self._client = client
        self._runtime = runtime
        self._folder = folder
        self._seen: set[str] = set()
        self._waiting: deque[tuple[str, str]] = deque()
        self._running = 0
        self._copied: dict[str, FileRef] = {}
        self._failure: BaseException | None = None
        self._changed = threading.Condition()

    def _copy(self, item_id: str, uri: str) -> None:
        ref: FileRef | None = None
        failure: BaseException | None = None
        try:
            ref = copy_download(
                self._client, self._runtime.store, uri, layout.original_stem(self._folder, item_id)
            )
        except NotFoundError:
            pass  # deleted between listing and download: its record stays, with no file
        except BaseException as exc:  # handed to finish(), which raises it in the caller
            failure = exc
        with self._changed:
            self._running -= 1
            if ref is not None:
                self._copied[item_id] = ref
            if failure is not None and self._failure is None:
                self._failure = failure
            self._start_waiting()
            self._changed.notify_all()

    def _start_waiting(self) -> None:
        """Start waiting copies while the window has room (call holding ``_changed``)."""
        while self._waiting and self._running < COPY_WINDOW and self._failure is None:
            item_id, uri = self._waiting.popleft()
            try:
                self._runtime.downloads.submit(self._copy, item_id, uri)
            except RuntimeError as exc:  # the pool is shut down: the process is stopping
                self._failure = exc
                return
            self._running += 1

    def add(self, items: Iterable[tuple[str, str | None]]) -> None:
        with self._changed:
            for item_id, uri in items:
                if uri and item_id not in self._seen:
                    self._seen.add(item_id)
                    self._waiting.append((item_id, uri))
            self._start_waiting()

    def finish(self) -> dict[str, FileRef]:
        """Wait for every copy; the file written for each id (ids whose blob had gone are absent)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._running == 0 and (not self._waiting or self._failure is not None)
            )
            if self._failure is not None:
                raise self._failure
            return dict(self._copied)


WORKSPACE, ITERATION, UNTAGGED = "w", "i", "u"
"""Image cursor kinds: the workspace; a trained iteration's images (its tagged ones, via image
performances, when shared with iteration performance); that iteration's untagged ones (shared only)."""


def _image_cursor(cursor: str | None) -> tuple[str, str | None, int]:
    """``(kind, iteration id or None, skip)`` from ``w:<skip>``, ``i:<iteration>:<skip>``, ``u:...``."""
    if not cursor:
        return WORKSPACE, None, 0
    kind, _, rest = cursor.partition(":")
    if kind == WORKSPACE:
        return WORKSPACE, None, int(rest)
    iteration_id, _, skip = rest.rpartition(":")
    return kind, iteration_id, int(skip)


def _next_image_cursor(
    trained_ids: list[str], kind: str, iteration_id: str | None, skip: int | None, *, shared: bool
) -> str | None:
    """Where the next call starts: further into this listing (``skip``), else the next listing (the
    untagged half of a shared iteration pass, then the next trained iteration in id order, so a
    restarted call finds its place), else ``None``: done."""
    if skip is not None:
        return f"w:{skip}" if iteration_id is None else f"{kind}:{iteration_id}:{skip}"
    if shared and kind == ITERATION:
        return f"{UNTAGGED}:{iteration_id}:0"
    following = [i for i in trained_ids if iteration_id is None or i > iteration_id]
    return f"{ITERATION}:{following[0]}:0" if following else None


def _put_ids(runtime: Runtime, path: str, ids: Iterable[str]) -> None:
    runtime.store.put_bytes(path, "".join(f"{i}\n" for i in ids).encode(), "text/plain")


def _exported_id_files(job: Job, runtime: Runtime, pid: str, run: str, own_part: str) -> list[str]:
    """The files of ids already exported for this project: the workspace's, and those earlier iteration
    calls found. ``own_part`` is left out, so a retried call exports its images again rather than
    skipping them."""
    request_id = job["requestId"]
    parts = [
        f.path
        for kind in (ITERATION, UNTAGGED)
        for f in runtime.store.list_files(layout.ids_prefix(request_id, pid, kind, run))
        if f.path != own_part
    ]
    return [layout.workspace_ids(request_id, pid, run), *parts]


def _not_exported(runtime: Runtime, id_files: list[str], ids: Iterable[str]) -> list[str]:
    """``ids`` (in order, once each) less those the files name. The files are read one at a time and
    line by line, so memory is that of ``ids`` and one file's bytes, not a set of the project's ids
    (25k per project at 100k images, in each of the calls running at once)."""
    left = {i.encode(): i for i in ids}
    for path in id_files:
        if not left:
            break
        for line in io.BytesIO(runtime.store.get_bytes(path)):
            left.pop(line.rstrip(b"\n"), None)
    return list(left.values())


@dataclass
class _PageBudget:
    """Listing calls one activity call may still make: it goes on to the next listing (the next trained
    iteration, say) until they are spent, so a small project is one activity call, not one per listing."""

    left: int = PAGES_PER_UNIT


def _take_pages(
    pages: Iterator[list[T]], on_page: Callable[[list[T]], None], budget: _PageBudget
) -> tuple[list[T], bool]:
    """Pages until the budget is spent; ``on_page`` sees each as it arrives. Returns (items, exhausted)."""
    items: list[T] = []
    taken = 0
    for page in pages:
        items.extend(page)
        on_page(page)
        taken += 1
        if taken >= budget.left:
            budget.left = 0
            return items, len(page) < PAGE_SIZE
    budget.left -= max(1, taken)  # an empty listing still took its one call
    return items, True


def _image_records(
    images: Iterable[Image], copies: dict[str, FileRef], iid: str | None
) -> Iterator[dict[str, Any]]:
    """The records as they are written (one at a time, not a second list beside the images)."""
    for image in images:
        yield unsigned({**image.raw, **_exported_file(copies.get(image.id)), "onlyInIteration": iid})


def _exported_file(ref: FileRef | None) -> dict[str, Any]:
    """Where a record's bytes were copied, with their size and sha256 (the manifest is built from these)."""
    if ref is None:
        return {"exportedFile": None}
    return {"exportedFile": ref.path, "exportedFileBytes": ref.size, "exportedFileSha256": ref.sha256}


@dataclass
class _ImageCall:
    """One activity call of an image unit: its listings go back to back while the originals copy on
    the download threads; the image records are written once every copy of the call is done."""

    job: Job
    pid: str
    runtime: Runtime
    client: TrainingClient
    trained_ids: list[str]
    copies: _Copies
    run: str
    """This start of the unit from its first page: the ids parts it reads are its own."""
    budget: _PageBudget = field(default_factory=_PageBudget)
    files: list[FileRef] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    parts: list[tuple[str, list[Image], str | None, str | None]] = field(default_factory=list)
    """(path, images, iteration id or None, ids part or None) of the NDJSON parts to write at the end."""
    gone: _Gone = field(default_factory=_Gone)

    def add_part(
        self, path: str, images: list[Image], iteration_id: str | None, ids_part: str | None = None
    ) -> None:
        """Images to write at the end; an iteration's with the ids part that says they are exported."""
        self.parts.append((path, images, iteration_id, ids_part))
        self.copies.add((i.id, i.original_image_uri) for i in images)

    def finish(self) -> None:
        copied = self.copies.finish()
        for path, images, iteration_id, ids_part in self.parts:
            self.files.append(
                put_ndjson(self.runtime.store, path, _image_records(images, copied, iteration_id))
            )
            # Only after the records: a call that fails before them leaves no ids part behind to say
            # they were exported (its retry may skip the iteration, deleted meanwhile).
            if ids_part is not None:
                _put_ids(self.runtime, ids_part, (i.id for i in images))
            self.counts["images"] += len(images)
            self.counts["imagesWithoutFile"] += sum(1 for i in images if i.id not in copied)
        self.counts["bytesCopied"] += sum(ref.size for ref in copied.values())


def _workspace_stretch(call: _ImageCall, start: int) -> str | None:
    """Workspace images from offset ``start``; returns the next cursor."""
    job, pid, runtime = call.job, call.pid, call.runtime
    metadata = subject_metadata(job, runtime.store)
    request_id = job["requestId"]
    images, exhausted = _take_pages(
        call.client.iter_images(pid, metadata=metadata, skip=start),
        lambda page: call.copies.add((i.id, i.original_image_uri) for i in page),
        call.budget,
    )
    call.add_part(layout.image_part(request_id, pid, start), images, None)
    _put_ids(runtime, layout.ids_part(request_id, pid, WORKSPACE, start, call.run), (i.id for i in images))
    if exhausted and call.trained_ids:
        # One file of every workspace id for the iteration pass, which finds the images only
        # iterations still hold by set difference (no per-id calls). The parts are joined one at a
        # time; an id listed twice (the listing shifted between pages) does no harm there.
        prefix = layout.ids_prefix(request_id, pid, WORKSPACE, call.run)
        parts = [f.path for f in runtime.store.list_files(prefix)]
        runtime.store.put_stream(
            layout.workspace_ids(request_id, pid, call.run),
            (runtime.store.get_bytes(path) for path in parts),
            "text/plain",
            block_size=DOCUMENT_BLOCK_SIZE,
        )
    skip = None if exhausted else start + len(images)
    return _next_image_cursor(call.trained_ids, WORKSPACE, None, skip, shared=False)


def _iteration_stretch(call: _ImageCall, kind: str, iid: str, start: int) -> str | None:
    """A trained iteration's images from ``start``: its image performances (when shared) and the
    images no longer in the workspace, each exported once however many iterations hold it. An
    iteration deleted since the listing of iterations is skipped, and named in the unit's note."""
    try:
        return _listed_iteration_stretch(call, kind, iid, start)
    except NotFoundError as exc:
        if not iteration_gone(exc):
            raise
        call.gone.iterations.append(iid)
        shared = performance_shared_with_images(call.job)
        return _next_image_cursor(call.trained_ids, kind, iid, None, shared=shared)


def _listed_iteration_stretch(call: _ImageCall, kind: str, iid: str, start: int) -> str | None:
    """:func:`_iteration_stretch` while the iteration is there: what it adds to ``call`` goes in only
    after the stretch's last API call, so a 404 part-way adds nothing."""
    job, pid, runtime, client = call.job, call.pid, call.runtime, call.client
    shared = performance_shared_with_images(job)
    held: list[str]
    listed_images: dict[str, Image] = {}
    files: list[FileRef] = []
    counts: Counter[str] = Counter()
    if shared and kind == ITERATION:
        if start == 0:
            files.append(_performance_summary(job, runtime, client, pid, iid))
            counts["iterations"] += 1
        items, exhausted = _take_pages(
            client.iter_image_performances(pid, iid, skip=start), _ignore, call.budget
        )
        files.append(_performance_part(job, runtime, pid, iid, start, items))
        counts["imagePerformances"] += len(items)
        held = [item.id for item in items]
    else:
        if shared:  # the untagged images, which have no image performance
            pages = client.iter_untagged_images(pid, iteration_id=iid, skip=start)
        else:
            metadata = subject_metadata(job, runtime.store)
            pages = client.iter_images(pid, metadata=metadata, iteration_id=iid, skip=start)
        images, exhausted = _take_pages(pages, _ignore, call.budget)
        listed_images = {image.id: image for image in images}
        held = list(listed_images)
    own_part = layout.iteration_ids_part(job["requestId"], pid, kind, iid, start, call.run)
    this_call = {i.id for _, part, _, _ in call.parts for i in part}  # earlier stretches of this call
    absent = _not_exported(
        runtime,
        _exported_id_files(job, runtime, pid, call.run, own_part),
        (i for i in held if i not in this_call),
    )
    if absent and not listed_images:
        # Image performances carry no metadata or original URI: fetch the records of the few absent.
        listed_images = {i.id: i for i in client.get_images_by_ids(pid, absent, iteration_id=iid)}
    orphans = [listed_images[i] for i in absent if i in listed_images]
    call.files.extend(files)
    call.counts.update(counts)
    if orphans:
        call.add_part(
            layout.iteration_image_part(job["requestId"], pid, iid, kind, start), orphans, iid, own_part
        )
    skip = None if exhausted else start + len(held)
    return _next_image_cursor(call.trained_ids, kind, iid, skip, shared=shared)


def _ignore(page: list[Any]) -> None:
    """For pages whose items are only needed once the stretch is complete."""


def _export_images_page(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    """Up to PAGES_PER_UNIT listing calls' worth of images with their original bytes.

    First the workspace; then, per trained iteration, the images that are no longer in the workspace
    but still held by that iteration (deleted without ``allIterations``): still the customer's data.
    """
    pid = unit["projectId"]
    assert pid is not None  # planned per project
    trained_ids = _trained_ids(_listing(job, runtime), pid)
    copies = _Copies(client, runtime, layout.images_folder(job["requestId"], pid))
    run, first = _run_and_cursor(unit["cursor"])
    cursor: str | None = first
    call = _ImageCall(job, pid, runtime, client, trained_ids, copies, run)
    while cursor is not None and call.budget.left > 0:
        kind, iteration_id, start = _image_cursor(cursor)
        if iteration_id is None:
            cursor = _workspace_stretch(call, start)
        else:
            cursor = _iteration_stretch(call, kind, iteration_id, start)
    call.finish()
    following = cursor if cursor is None or not run else f"{run}{RUN_SEPARATOR}{cursor}"
    return _result(unit, dict(call.counts), call.files, following, note=call.gone.note)


RUN_SEPARATOR = "/"


def _run_and_cursor(cursor: str | None) -> tuple[str, str]:
    """The unit's run and its cursor within it. A start from the first page (the first call, or a
    retry of the request) is a new run: ids parts an earlier one left, at offsets that may no longer
    match the listings, must not count as exported. A cursor without a run is from before runs."""
    if cursor is None:
        return secrets.token_hex(6), f"{WORKSPACE}:0"
    run, separator, rest = cursor.partition(RUN_SEPARATOR)
    return (run, rest) if separator else ("", cursor)


def _export_predictions(job: Job, unit: Unit, runtime: Runtime, client: TrainingClient) -> UnitResult:
    pid = unit["projectId"]
    assert pid is not None
    window = prediction_window(job)
    if window is None:
        return empty_result(unit, "not_attributable", NOT_ATTRIBUTABLE_NOTE)
    application, start, end = window
    copies = _Copies(client, runtime, layout.predictions_folder(job["requestId"], pid))
    predictions: list[StoredImagePrediction] = []
    for page in client.iter_predictions(pid, application=application, start_time=start, end_time=end):
        copies.add((p.id, p.original_image_uri) for p in page)
        predictions.extend(page)
    copied = copies.finish()
    records = (unsigned({**p.raw, **_exported_file(copied.get(p.id))}) for p in predictions)
    ref = put_ndjson(runtime.store, layout.predictions_part(job["requestId"], pid), records)
    size = sum(r.size for r in copied.values())
    return _result(unit, {"predictions": len(predictions), "bytesCopied": size}, [ref])


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
