"""The export's pages, COCO files and manifest, built at the end of a request from the status document:
the files its units returned, and the records inside the NDJSON parts they wrote. Nothing is listed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dsr import layout
from dsr.categories import Category
from dsr.package.coco import write_coco
from dsr.package.delivery import write_zip
from dsr.package.manifest import Manifest
from dsr.package.pages import CATEGORY_GUIDE, render
from dsr.package.paging import PagedView
from dsr.package.reading import (
    optional_json,
    parts_under,
    projects_with_parts,
    records,
    relative,
    subject_of,
    unit_files,
)
from dsr.signed_links import without_query
from dsr.storage import ExportStore, FileRef, get_json
from dsr.times import format_time
from dsr.units import data_counts

EXPORT_MANUAL_ACTIONS: dict[str, tuple[str, str]] = {
    Category.ACCOUNT_INFO: (
        "Account information and deletion",
        "The Training API exposes no keys, billing or usage of the resource: see the Azure portal. "
        "The resource itself (with its keys) can only be deleted in the Azure portal or with "
        "`az cognitiveservices account delete`; a delete request removes everything else.",
    ),
    Category.EXPORTED_MODELS: (
        "Exported models",
        "The model files are not in this package and their download links no longer open (the "
        "signature was removed). Export the iteration again in Custom Vision to download a model; "
        "copies already downloaded elsewhere must be handled where they are stored.",
    ),
}
NOT_ATTRIBUTABLE_ACTION = (
    "Stored predictions",
    "Stored predictions carry no image metadata, so they could not be matched to the data subject. "
    "To include the ones you can attribute, resubmit with subject.predictions (application and/or "
    "from/to).",
)


@dataclass(frozen=True)
class ExportPackage:
    index: FileRef
    manifest: FileRef
    zip: FileRef | None


def _doc(store: ExportStore, request_id: str, category: Category, default: Any) -> Any:
    found = optional_json(store, layout.category_file(request_id, category))
    return default if found is None else found


def _subject(
    record_store: ExportStore, store: ExportStore, document: Mapping[str, Any]
) -> dict[str, Any] | None:
    subject = document["request"]["subject"]
    if subject is None:
        return None
    metadata = subject_of(record_store, store, document["requestId"])
    return {
        "metadata": sorted(metadata.items()),
        "keys": subject["metadataKeys"],
    }


def _project_list(document: Mapping[str, Any], projects_doc: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every project the package covers: the full records of projects.json, then the status document's
    projects it does not name (with the resolution's names), then any project with image or
    prediction parts that neither names (id only: the pages then show the id).

    projects.json alone is not enough: a project deleted before the (retried) projects unit listed it,
    or one whose images were exported before the projects unit ran, has parts in the package; without
    its entry here, its records' originals, its pages and its coco.json would be left out.
    """
    found: dict[str, dict[str, Any]] = {}
    for p in projects_doc:
        found.setdefault(p["project"]["id"], {**p["project"], "counts": p.get("counts") or {}})
    for p in document.get("projects") or []:
        found.setdefault(p["id"], {"id": p["id"], "name": p.get("name", ""), "counts": {}})
    request_id = document["requestId"]
    parts = sorted(
        set(projects_with_parts(unit_files(document, Category.IMAGES), request_id, layout.images_folder))
        | set(
            projects_with_parts(
                unit_files(document, Category.PREDICTIONS), request_id, layout.predictions_folder
            )
        )
    )
    for pid in parts:
        found.setdefault(pid, {"id": pid, "name": "", "counts": {}})
    return list(found.values())


def _iterations(
    pid: str, details: dict[str, Any], listing: dict[str, Any], performance: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    figures = {p["iterationId"]: p["performance"] for p in performance if p["projectId"] == pid}
    rows = []
    for it in details.get(pid) or listing.get(pid) or []:
        perf = figures.get(it["id"]) or {}
        rows.append(
            {
                "name": it.get("name") or it["id"],
                "status": it.get("status") or "",
                "trainedAt": it.get("trainedAt"),
                "publishName": it.get("publishName"),
                "precision": perf.get("precision"),
                "recall": perf.get("recall"),
                "averagePrecision": perf.get("averagePrecision"),
                "perTag": [
                    _fields(t, ("name", "precision", "recall", "averagePrecision"))
                    for t in perf.get("perTagPerformance") or []
                ],
            }
        )
    return rows


def _fields(record: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The fields a page shows of an API record; a field the service left out shows as empty."""
    return {name: record.get(name) for name in names}


def _models(pid: str, models: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "iteration": names.get(m["iterationId"], m["iterationId"]),
            "platform": m["export"].get("platform"),
            "flavor": m["export"].get("flavor"),
            "status": m["export"].get("status"),
            "link": without_query(m["export"]["downloadUri"]) if m["export"].get("downloadUri") else None,
        }
        for m in models
        if m["projectId"] == pid
    ]


def _facts(project: dict[str, Any]) -> list[tuple[str, Any]]:
    settings = project.get("settings") or {}
    facts: list[tuple[str, Any]] = [
        ("Created", project.get("created")),
        ("Domain", settings.get("domainId")),
        ("Classification type", settings.get("classificationType")),
    ]
    facts += [(f"Count: {name}", value) for name, value in sorted((project.get("counts") or {}).items())]
    return [(name, value) for name, value in facts if value is not None]


def write_export_package(
    store: ExportStore,
    record_store: ExportStore,
    document: Mapping[str, Any],
    generated: datetime,
    *,
    zip: bool = False,
) -> ExportPackage:
    """Write the paged views, COCO files, ``index.html`` and ``manifest.json`` of an export, and
    with ``zip`` the whole package as one zip."""
    request_id = document["requestId"]
    with Manifest(request_id) as manifest:
        index = _write_pages(store, record_store, document, generated, manifest)
        manifest_ref = manifest.write(store, generated)
        archive = None
        if zip:
            extra = {layout.MANIFEST_NAME: manifest.chunks(generated)}
            archive = write_zip(store, request_id, manifest.paths(), extra)
    return ExportPackage(index=index, manifest=manifest_ref, zip=archive)


def _write_pages(
    store: ExportStore,
    record_store: ExportStore,
    document: Mapping[str, Any],
    generated: datetime,
    manifest: Manifest,
) -> FileRef:
    request_id = document["requestId"]
    index_path = layout.index_file(request_id)
    for category in document["categories"]:
        for entry in unit_files(document, category):
            manifest.add_json(entry)

    projects = _project_list(document, _doc(store, request_id, Category.PROJECTS, []))
    tags_doc = _doc(store, request_id, Category.TAGS, {})
    details = _doc(store, request_id, Category.ITERATION_DETAILS, {})
    listing = _doc(store, request_id, Category.ITERATION_LIST, {})
    # One summary per trained iteration (export/iteration-performance/<projectId>/<iterationId>.json),
    # as the iterationPerformance units reported them.
    performance = [
        get_json(store, entry["path"])
        for entry in unit_files(document, Category.ITERATION_PERFORMANCE)
        if entry["path"].endswith(".json")
    ]
    models = _doc(store, request_id, Category.EXPORTED_MODELS, [])
    subject = _subject(record_store, store, document)
    subject_note = (
        "Only images whose metadata identifies the data subject of this request are shown."
        if subject
        else None
    )
    image_files = unit_files(document, Category.IMAGES)
    prediction_files = unit_files(document, Category.PREDICTIONS)
    predictions_entry = document["categories"].get(Category.PREDICTIONS)

    project_views = []
    for project in projects:
        pid = project["id"]
        tags = {t["id"]: t["name"] for t in tags_doc.get(pid) or []}
        iteration_names = {it["id"]: it.get("name") or it["id"] for it in listing.get(pid) or []}
        view: dict[str, Any] = {
            "id": pid,
            "name": project.get("name") or "",
            "description": project.get("description"),
            "facts": _facts(project),
            "tags": [
                _fields(t, ("name", "description", "type", "imageCount")) for t in tags_doc.get(pid) or []
            ],
            "iterations": _iterations(pid, details, listing, performance),
            "models": _models(pid, models, iteration_names),
            "images": None,
            "predictions": None,
        }
        folder = layout.images_folder(request_id, pid)
        parts = parts_under(image_files, folder)
        if Category.IMAGES in document["categories"]:
            pages = PagedView(store, manifest, request_id, pid, view["name"], "images", subject_note)
            for record in records(store, parts):
                manifest.add_record_file(record)
                pages.add(record)
                for label in (record.get("tags") or []) + (record.get("regions") or []):
                    tags.setdefault(label["tagId"], label.get("tagName") or label["tagId"])
            links = pages.close()
            coco = None
            if parts:
                ref = manifest.add_ref(write_coco(store, project, tags, records(store, parts), folder))
                coco = relative(index_path, ref.path)
            view["images"] = {"total": pages.total, "pages": links, "coco": coco, "preview": pages.preview}
        if predictions_entry is not None:
            pages = PagedView(store, manifest, request_id, pid, view["name"], "predictions")
            for record in records(
                store, parts_under(prediction_files, layout.predictions_folder(request_id, pid))
            ):
                manifest.add_record_file(record)
                pages.add(record)
            note = predictions_entry.get("note") if predictions_entry["state"] == "not_attributable" else None
            links = pages.close()
            view["predictions"] = {
                "total": pages.total,
                "pages": links,
                "note": note,
                "preview": pages.preview,
            }
        project_views.append(view)

    html = render(
        "index.html",
        request_id=request_id,
        operation=document["operation"],
        state=document["state"],
        generated=format_time(generated),
        received_at=document["receivedAt"],
        endpoint=document["request"]["account"]["endpoint"],
        subject=subject,
        requested_projects=document["request"]["projectIds"],
        scope_projects=[{"id": p["id"], "name": p.get("name")} for p in projects],
        projects_not_found=document.get("projectsNotFound") or [],
        prediction_window=(document["request"]["subject"] or {}).get("predictions"),
        categories=_category_rows(document, index_path),
        account_info=sorted(_doc(store, request_id, Category.ACCOUNT_INFO, {}).items()),
        manual_actions=_manual_actions(document),
        projects=project_views,
    )
    return manifest.add_ref(store.put_bytes(index_path, html, "text/html"))


def _category_rows(document: Mapping[str, Any], index_path: str) -> list[dict[str, Any]]:
    rows = []
    for name, entry in document["categories"].items():
        title, text = CATEGORY_GUIDE.get(name, (name, ""))
        files = unit_files(document, name)
        originals = entry.get("counts", {}).get("images", 0) - entry.get("counts", {}).get(
            "imagesWithoutFile", 0
        )
        more = None
        if name == Category.IMAGES and originals > 0:
            more = f"and {originals} original image files under images/<project>/, with coco.json per project"
        elif name == Category.PREDICTIONS and entry.get("counts", {}).get("predictions"):
            more = "and the stored prediction images under predictions/<project>/"
        rows.append(
            {
                "name": name,
                "title": title,
                "text": text,
                "state": entry["state"],
                "note": entry.get("note") or entry.get("error"),
                "counts": sorted(data_counts(entry.get("counts", {})).items()),
                "files": [
                    {"href": relative(index_path, f["path"]), "label": relative(index_path, f["path"])}
                    for f in files
                ],
                "more": more,
            }
        )
    return rows


def _manual_actions(document: Mapping[str, Any]) -> list[dict[str, str]]:
    actions = [
        {"title": title, "text": text}
        for name, (title, text) in EXPORT_MANUAL_ACTIONS.items()
        if name in document["categories"] or name == Category.ACCOUNT_INFO
    ]
    predictions = document["categories"].get(Category.PREDICTIONS)
    if predictions is not None and predictions["state"] == "not_attributable":
        actions.append({"title": NOT_ATTRIBUTABLE_ACTION[0], "text": NOT_ATTRIBUTABLE_ACTION[1]})
    return actions
