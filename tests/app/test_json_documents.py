"""JSON documents are written as they are encoded: a receipt of 25k ids (a project at 100k images)
must not exist as one string, nor as the list of its fragments that ``json.dumps`` joins."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
import uuid
from collections.abc import Iterable

from dsr.storage import FileRef, put_json


class _Sink:
    """A store that keeps only the digest and size of what it is given, so the traced peak is the
    writer's own memory."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def _take(self, path: str, chunks: Iterable[bytes], content_type: str) -> FileRef:
        for chunk in chunks:
            self.digest.update(chunk)
            self.size += len(chunk)
        return FileRef(path, self.size, self.digest.hexdigest(), content_type)

    def put_bytes(self, path: str, data: bytes, content_type: str, *, metadata: object = None) -> FileRef:
        return self._take(path, [data], content_type)

    def put_stream(
        self, path: str, chunks: Iterable[bytes], content_type: str, *, block_size: int
    ) -> FileRef:
        return self._take(path, chunks, content_type)


def _receipt_like(ids: int) -> dict[str, object]:
    targeted = [str(uuid.UUID(int=n)) for n in range(ids)]
    return {
        "requestId": "r-1",
        "targeted": {"count": ids, "ids": targeted},
        "deleted": {"count": ids, "ids": targeted},
        "note": "Zoë's images — все",
        "verification": {"verified": True, "remaining": {"count": 0, "ids": []}, "extra": None},
        "figures": [0.5, 1e-07, -3, {}],
    }


def test_a_document_is_written_exactly_as_json_dumps_would_write_it() -> None:
    document = _receipt_like(3_000)
    expected = json.dumps(document, indent=2, ensure_ascii=False).encode()
    sink = _Sink()
    ref = put_json(sink, "r/receipt.json", document)  # type: ignore[arg-type]
    assert (ref.size, ref.sha256) == (len(expected), hashlib.sha256(expected).hexdigest())
    assert ref.content_type == "application/json"


def test_writing_a_large_document_holds_a_fraction_of_it() -> None:
    document = _receipt_like(40_000)
    size = len(json.dumps(document, indent=2, ensure_ascii=False).encode())
    tracemalloc.start()
    try:
        put_json(_Sink(), "r/receipt.json", document)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < size / 4, f"peak {peak} bytes to write a document of {size}"
