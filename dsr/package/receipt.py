"""The erasure certificate of a delete: ``receipt.json`` (the facts) and ``receipt.html`` (the same facts
for a person to read, file or sign), written once the request has finished.

Both are built from the per-unit receipt JSON files the delete units returned: what was in scope,
what was deleted per category (counts, and the file holding the ids), the re-list that verified it,
what the API cannot delete and what the customer must do, and the sha256 of every receipt file. The
subject's identifier is not repeated here: only its metadata keys and a sha256 fingerprint of it.
A dry run writes the same documents marked as a preview.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dsr import layout
from dsr.package.pages import CATEGORY_GUIDE, render
from dsr.package.reading import relative, subject_of, unit_files
from dsr.storage import ExportStore, FileRef, get_json, put_json
from dsr.times import format_time
from dsr.units import data_counts


@dataclass(frozen=True)
class Certificate:
    json: FileRef
    html: FileRef
    preview: bool


def _fingerprint(metadata: dict[str, Any]) -> str:
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _unit(store: ExportStore, ref: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """One unit's receipt, summarised (counts, not ids) with the file that holds its ids."""
    receipt = get_json(store, ref["path"])
    verification = receipt.get("verification") or {}
    return {
        "projectId": receipt.get("projectId"),
        "projectName": names.get(receipt.get("projectId") or "", ""),
        "targeted": receipt["targeted"]["count"],
        "deleted": receipt["deleted"]["count"],
        "alreadyGone": receipt["alreadyGone"]["count"],
        "calls": len(receipt.get("calls") or []),
        "startedAt": receipt.get("startedAt"),
        "completedAt": receipt.get("completedAt"),
        "verification": None
        if not verification
        else {
            "verified": verification.get("verified"),
            "method": verification.get("method"),
            "checkedAt": verification.get("checkedAt"),
            "remaining": (verification.get("remaining") or {}).get("count", 0),
        },
        "manualActionRequired": bool(receipt.get("manualActionRequired")),
        "note": receipt.get("note"),
        "file": {"path": ref["path"], "bytes": ref["bytes"], "sha256": ref["sha256"]},
    }


def certificate_document(
    records: ExportStore, store: ExportStore, document: Mapping[str, Any], generated: datetime
) -> dict[str, Any]:
    """The facts of the certificate, from the status document and the sealed receipts it references
    (in ``records``; ``store`` holds the subject payload)."""
    request = document["request"]
    names = {p["id"]: p.get("name", "") for p in document.get("projects") or []}
    subject = None
    if request["subject"] is not None:
        metadata = subject_of(records, store, document["requestId"])
        subject = {
            "metadataKeys": request["subject"]["metadataKeys"],
            "fingerprint": _fingerprint(metadata),
            "predictions": request["subject"]["predictions"],
        }
    categories = []
    files: list[dict[str, Any]] = []
    manual = []
    for name, entry in document["categories"].items():
        units = [_unit(records, ref, names) for ref in unit_files(document, name)]
        files += [u["file"] for u in units]
        if entry["state"] == "manual_action_required":
            manual.append({"category": name, "action": entry.get("note")})
        categories.append(
            {
                "category": name,
                "title": CATEGORY_GUIDE.get(name, (name, ""))[0],
                "state": entry["state"],
                "verified": entry.get("verified"),
                "counts": data_counts(entry.get("counts") or {}),
                "note": entry.get("note"),
                "error": entry.get("error"),
                "units": units,
            }
        )
    return {
        "requestId": document["requestId"],
        "operation": document["operation"],
        "preview": bool(request["dryRun"]),
        "state": document["state"],
        "receivedAt": document["receivedAt"],
        "completedAt": document["completedAt"],
        "generatedAt": format_time(generated),
        "scope": {
            "endpoint": request["account"]["endpoint"],
            "categories": request["categories"],
            "projectIds": request["projectIds"],
            "projects": document.get("projects") or [],
            "projectsNotFound": document.get("projectsNotFound") or [],
            "subject": subject,
        },
        "approval": None
        if not document.get("approval")
        else {key: document["approval"].get(key) for key in ("decision", "by", "at", "deadline")},
        "error": document.get("error"),
        "categories": categories,
        "manualActions": manual,
        "receiptFiles": files,
    }


def write_certificate(
    records: ExportStore, store: ExportStore, document: Mapping[str, Any], generated: datetime
) -> Certificate:
    """Write ``<requestId>/receipts/receipt.json`` and the ``receipt.html`` that renders it to ``records``."""
    facts = certificate_document(records, store, document, generated)
    json_ref = put_json(records, layout.certificate_json(document["requestId"]), facts)
    html_path = layout.certificate_html(document["requestId"])
    for category in facts["categories"]:
        for unit in category["units"]:
            unit["href"] = relative(html_path, unit["file"]["path"])
    html = render(
        "receipt.html",
        facts=facts,
        receipt_json={
            "href": relative(html_path, json_ref.path),
            "sha256": json_ref.sha256,
            "bytes": json_ref.size,
        },
    )
    html_ref = records.put_bytes(html_path, html, "text/html")
    return Certificate(json=json_ref, html=html_ref, preview=facts["preview"])
