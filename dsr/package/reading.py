"""Reading back what the units wrote, one file (or one NDJSON part) at a time."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dsr import layout
from dsr.storage import ExportStore, StoredFileNotFoundError, get_json


def optional_json(store: ExportStore, path: str) -> Any:
    """The JSON document at ``path``, or None when the category was not exported."""
    try:
        return get_json(store, path)
    except StoredFileNotFoundError:
        return None


def subject_of(records: ExportStore, store: ExportStore, request_id: str) -> dict[str, str]:
    """The metadata a subject-scoped request named: its request record (in ``records``) names the
    body's fingerprint, under which intake kept the payload out of history (in ``store``)."""
    record = optional_json(records, layout.record(request_id))
    found = (
        None
        if record is None
        else optional_json(store, layout.payload(request_id, record["fingerprint"], "subject"))
    )
    return {str(k): str(v) for k, v in (found or {}).items()}


def records(store: ExportStore, parts: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The records of NDJSON ``parts`` in order; one part (at most a unit's pages) in memory at a time."""
    for part in parts:
        for line in store.get_bytes(part).splitlines():
            if line.strip():
                yield json.loads(line)


def unit_files(document: Mapping[str, Any], category: str) -> list[dict[str, Any]]:
    """The files the units of ``category`` reported (export files, or a delete's receipts)."""
    entry = document["categories"].get(category) or {}
    receipt = entry.get("receipt") or {}
    return list(entry.get("files") or []) + list(receipt.get("files") or [])


def parts_under(files: Iterable[dict[str, Any]], folder: str) -> list[str]:
    """NDJSON parts directly in ``folder``, in name order (the order the units wrote them)."""
    return sorted(
        f["path"] for f in files if f["path"].endswith(".ndjson") and layout.folder_of(f["path"]) == folder
    )


def projects_with_parts(
    files: Iterable[dict[str, Any]], request_id: str, folder_of_project: Callable[[str, str], str]
) -> list[str]:
    """The projects with NDJSON parts among ``files``: those whose part sits directly in
    ``folder_of_project(request_id, project)`` (``layout.images_folder`` or ``predictions_folder``)."""
    found: dict[str, None] = {}
    for f in files:
        if not f["path"].endswith(".ndjson"):
            continue
        folder = layout.folder_of(f["path"])
        pid = posixpath.basename(folder)
        if pid and folder_of_project(request_id, pid) == folder:
            found[pid] = None
    return list(found)


def relative(from_file: str, target: str) -> str:
    """The link from the page at ``from_file`` to ``target`` (both container paths)."""
    return posixpath.relpath(target, posixpath.dirname(from_file) or ".")
