"""The export's table of contents: ``manifest.json`` (every file with size and sha256) and ``index.html``.

``index.html`` is a single self-contained page (inline CSS, no script, no external request) a person can
open from a downloaded copy of the export folder: projects, tags, iterations and image thumbnails that
link to the copied originals by relative path. Every value from the API is HTML-escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from html import escape
from typing import Any

from dsr.export import export_root
from dsr.status import format_time
from dsr.storage import ExportStore, FileRef, StoredFileNotFoundError, get_json, put_json

MANIFEST_NAME = "manifest.json"
INDEX_NAME = "index.html"
MAX_IMAGES_PER_PROJECT_IN_INDEX = 500
"""The page stays light; the NDJSON files list every image."""

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}"
    ".grid{display:flex;flex-wrap:wrap;gap:.5rem}.grid figure{margin:0;width:128px;font-size:.7rem}"
    ".grid img{width:128px;height:96px;object-fit:cover;background:#eee}"
)


def _optional_json(store: ExportStore, path: str) -> Any:
    try:
        return get_json(store, path)
    except StoredFileNotFoundError:
        return None


def _ndjson(store: ExportStore, path: str) -> Iterator[dict[str, Any]]:
    for line in store.get_bytes(path).splitlines():
        if line.strip():
            yield json.loads(line)


def _relative(root: str, path: str) -> str:
    return path.removeprefix(root + "/")


def _table(title: str, headers: tuple[str, ...], rows: list[dict[str, Any]], fields: tuple[str, ...]) -> str:
    """An HTML table of ``fields`` of each row (escaped), or nothing when there are no rows."""
    if not rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{escape(str(row.get(f) if row.get(f) is not None else ''))}</td>" for f in fields)
        + "</tr>"
        for row in rows
    )
    return f"<h3>{escape(title)}</h3><table><tr>{head}</tr>{body}</table>"


def render_index(store: ExportStore, request_id: str, generated: datetime) -> str:
    root = export_root(request_id)
    projects = _optional_json(store, f"{root}/projects.json") or []
    tags = _optional_json(store, f"{root}/tags.json") or {}
    iterations = _optional_json(store, f"{root}/iterations.json") or {}
    files = store.list_files(f"{root}/images/")
    parts: list[str] = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Custom Vision export {escape(request_id)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Custom Vision data export</h1><p>Request <code>{escape(request_id)}</code>, generated "
        f"{escape(format_time(generated))}. Every file is listed with its sha256 in "
        f"<a href='{MANIFEST_NAME}'>{MANIFEST_NAME}</a>.</p>",
    ]
    project_ids = [p["project"]["id"] for p in projects] or sorted(
        {f.path.split("/")[3] for f in files if f.path.count("/") >= 4}
    )
    names = {p["project"]["id"]: p["project"].get("name", "") for p in projects}
    for pid in project_ids:
        parts.append(
            f"<h2>Project {escape(names.get(pid, ''))} <small><code>{escape(pid)}</code></small></h2>"
        )
        parts.append(
            _table("Tags", ("Name", "Type", "Images"), tags.get(pid, []), ("name", "type", "imageCount"))
        )
        parts.append(
            _table(
                "Iterations",
                ("Name", "Status", "Published as"),
                iterations.get(pid, []),
                ("name", "status", "publishName"),
            )
        )
        figures: list[str] = []
        total = 0
        for part in sorted(
            f.path for f in files if f.path.startswith(f"{root}/images/{pid}/") and f.path.endswith(".ndjson")
        ):
            for image in _ndjson(store, part):
                total += 1
                if len(figures) >= MAX_IMAGES_PER_PROJECT_IN_INDEX:
                    continue
                tag_names = ", ".join(str(t.get("tagName", "")) for t in image.get("tags") or [])
                target = image.get("exportedFile")
                img = f"<img loading=lazy alt='' src='{escape(_relative(root, target))}'>" if target else ""
                link = f"<a href='{escape(_relative(root, target))}'>{img}</a>" if target else img
                figures.append(
                    f"<figure>{link}<figcaption>{escape(tag_names or 'untagged')}</figcaption></figure>"
                )
        if total:
            more = f"<p>Showing {len(figures)} of {total} images.</p>" if total > len(figures) else ""
            parts.append(f"<h3>Images ({total})</h3>{more}<div class=grid>{''.join(figures)}</div>")
    if not project_ids:
        parts.append("<p>No projects were in scope of this request, so no project data was exported.</p>")
    parts.append("</body></html>")
    return "".join(parts)


def write_index_and_manifest(store: ExportStore, request_id: str, generated: datetime) -> FileRef:
    """Write ``index.html``, then ``manifest.json`` listing every export file (the index included)."""
    root = export_root(request_id)
    store.put_bytes(f"{root}/{INDEX_NAME}", render_index(store, request_id, generated).encode(), "text/html")
    files = [f for f in store.list_files(f"{root}/") if f.path != f"{root}/{MANIFEST_NAME}"]
    manifest = {
        "requestId": request_id,
        "generatedAt": format_time(generated),
        "root": root,
        "fileCount": len(files),
        "totalBytes": sum(f.size for f in files),
        "files": [
            {**f.to_json(), "path": _relative(root, f.path)} for f in sorted(files, key=lambda f: f.path)
        ],
    }
    return put_json(store, f"{root}/{MANIFEST_NAME}", manifest)
