"""What a finished request leaves for people, written in the status-writing step.

An export gets its pages (``index.html`` and paged image views), COCO files and ``manifest.json``,
and on request one zip with a time-limited read-only link; a delete gets its erasure certificate
(``receipt.json`` and ``receipt.html``), in the records container next to the sealed receipts it is
rendered from. All of it is built from the status document: the files the units returned and the
records in them, never by listing a container.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dsr.package.delivery import Delivery, read_only_link
from dsr.package.export_package import write_export_package
from dsr.package.receipt import write_certificate
from dsr.runtime import Runtime
from dsr.status import with_certificate, with_manifest
from dsr.storage import FileRef
from dsr.wire import StatusDocument


def _ref(ref: FileRef) -> dict[str, Any]:
    return {"path": ref.path, "bytes": ref.size, "sha256": ref.sha256}


def write_reports(runtime: Runtime, document: StatusDocument, now: datetime) -> StatusDocument:
    """Write the request's pages; ``document`` pointing at them. Call after the receipts are sealed.

    The status-writing step runs again after a callback: pages the first run wrote are kept as they are.
    """
    if document.get("index") or document.get("receipt"):
        return document
    if document["operation"] == "export":
        if not any(entry.get("files") for entry in document["categories"].values()):
            return document  # nothing was exported (e.g. failed before any unit ran): nothing to browse
        package = write_export_package(
            runtime.store, runtime.records, document, now, zip=bool(document["request"].get("zip"))
        )
        delivery = None
        if package.zip is not None:
            url, expires = read_only_link(runtime.settings, package.zip.path, now)
            delivery = dict(Delivery(package.zip, url, expires).to_json())
        return with_manifest(document, _ref(package.manifest), _ref(package.index), delivery)
    certificate = write_certificate(runtime.records, runtime.store, document, now)
    return with_certificate(
        document,
        {"json": _ref(certificate.json), "html": _ref(certificate.html), "preview": certificate.preview},
    )
