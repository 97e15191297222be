"""What a finished request leaves for people, written in the status-writing step.

An export gets its pages (``index.html`` and paged image views), COCO files and ``manifest.json``,
and on request one zip with a time-limited read-only link; a delete gets its erasure certificate
(``receipt.json`` and ``receipt.html``). All of it is built from the status document: the files the
units returned and the records in them, never by listing the container.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dsr.config import Settings
from dsr.package.delivery import Delivery, read_only_link
from dsr.package.export_package import write_export_package
from dsr.package.receipt import write_certificate
from dsr.storage import ExportStore, FileRef


def _ref(ref: FileRef) -> dict[str, Any]:
    return {"path": ref.path, "bytes": ref.size, "sha256": ref.sha256}


def write_reports(
    store: ExportStore, settings: Settings, document: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Write the request's pages and return the status fields that point to them."""
    if document["operation"] == "export":
        if not any(entry.get("files") for entry in document["categories"].values()):
            return {}  # nothing was exported (e.g. failed before any unit ran): nothing to browse
        package = write_export_package(store, document, now, zip=bool(document["request"].get("zip")))
        fields: dict[str, Any] = {"manifest": _ref(package.manifest), "index": _ref(package.index)}
        if package.zip is not None:
            url, expires = read_only_link(settings, package.zip.path, now)
            fields["delivery"] = Delivery(package.zip, url, expires).to_json()
        return fields
    certificate = write_certificate(store, document, now)
    return {
        "receipt": {
            "json": _ref(certificate.json),
            "html": _ref(certificate.html),
            "preview": certificate.preview,
        }
    }
