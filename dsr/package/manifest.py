"""``manifest.json``: every file of the export with its size and sha256, built from the references the
writers returned, never by listing the container.

Entries are spooled to a temporary file as they arrive and streamed out once, one line each, so a
100k-image manifest never exists in memory as one document.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from dsr import layout
from dsr.storage import DOCUMENT_BLOCK_SIZE, JSON_CONTENT_TYPE, ExportStore, FileRef
from dsr.times import format_time

_CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif", ".bmp": "image/bmp"}


def content_type_of(path: str) -> str:
    """The content type of a copied original, from the extension the export gave it."""
    for extension, content_type in _CONTENT_TYPES.items():
        if path.endswith(extension):
            return content_type
    return "application/octet-stream"


class Manifest:
    """Collects file entries and writes them as ``manifest.json``. Each writer reports a file once
    (units their files, records their copied original), so no set of paths is kept in memory."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self._spool = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.count = 0
        self.total_bytes = 0

    def add(self, path: str, size: int, sha256: str, content_type: str) -> None:
        member = layout.export_member_name(self.request_id, path)
        if member is None:
            return
        self.count += 1
        self.total_bytes += size
        entry = {
            "path": member,
            "bytes": size,
            "sha256": sha256,
            "contentType": content_type,
        }
        self._spool.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")

    def add_ref(self, ref: FileRef) -> FileRef:
        self.add(ref.path, ref.size, ref.sha256, ref.content_type)
        return ref

    def add_json(self, entry: dict[str, Any]) -> None:
        """A ``FileRef.to_json()`` dict, as the units report files."""
        self.add(entry["path"], int(entry["bytes"]), entry["sha256"], entry.get("contentType", ""))

    def add_record_file(self, record: dict[str, Any]) -> None:
        """The copied original an exported image or prediction record points to."""
        path = record.get("exportedFile")
        if path and "exportedFileSha256" in record:
            self.add(
                path, int(record["exportedFileBytes"]), record["exportedFileSha256"], content_type_of(path)
            )

    def chunks(self, generated: datetime) -> Iterator[bytes]:
        """The manifest document, one entry a line (reproducible: the zip holds the same bytes)."""
        root = layout.export_root(self.request_id)
        head = {"requestId": self.request_id, "generatedAt": format_time(generated), "root": root}
        yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "files": [\n'
        self._spool.seek(0)
        first = True
        for line in self._spool:
            yield (b"" if first else b",\n") + line.rstrip("\n").encode()
            first = False
        yield f'\n], "fileCount": {self.count}, "totalBytes": {self.total_bytes}}}\n'.encode()

    def paths(self) -> Iterator[str]:
        """The listed paths, relative to the root, in the order they were added."""
        self._spool.seek(0)
        for line in self._spool:
            yield json.loads(line)["path"]

    def write(self, store: ExportStore, generated: datetime) -> FileRef:
        """Stream the manifest to the export root's ``manifest.json``; the manifest does not list itself."""
        return store.put_stream(
            layout.manifest_file(self.request_id),
            self.chunks(generated),
            JSON_CONTENT_TYPE,
            block_size=DOCUMENT_BLOCK_SIZE,
        )

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
