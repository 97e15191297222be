"""The Blob export store against Azurite: streamed writes, sha256 bookkeeping, listing."""

from __future__ import annotations

import hashlib
import os

import pytest

from dsr.storage import BLOCK_SIZE, StoredFileNotFoundError, get_json, put_json, put_ndjson

pytestmark = pytest.mark.services


def test_streamed_upload_spanning_blocks_keeps_size_and_sha256(export_store):
    data = os.urandom(BLOCK_SIZE * 2 + 12345)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    ref = export_store.put_stream("r/big.bin", iter(chunks), "application/octet-stream")
    assert ref.size == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert export_store.get_bytes("r/big.bin") == data


def test_empty_stream_is_an_empty_file(export_store):
    ref = export_store.put_stream("r/empty.ndjson", iter(()), "application/x-ndjson")
    assert ref.size == 0
    assert export_store.get_bytes("r/empty.ndjson") == b""


def test_listing_reports_the_sha256_recorded_at_write_time(export_store):
    first = put_json(export_store, "r/a.json", {"x": 1})
    second = put_ndjson(export_store, "r/b.ndjson", ({"i": i} for i in range(3)))
    put_json(export_store, "other/c.json", {})
    listed = {ref.path: ref for ref in export_store.list_files("r/")}
    assert set(listed) == {"r/a.json", "r/b.ndjson"}
    assert listed["r/a.json"].sha256 == first.sha256
    assert listed["r/b.ndjson"].size == second.size
    assert export_store.get_bytes("r/b.ndjson").splitlines() == [b'{"i":0}', b'{"i":1}', b'{"i":2}']
    assert get_json(export_store, "r/a.json") == {"x": 1}


def test_missing_file_is_a_permanent_error(export_store):
    put_json(export_store, "r/a.json", {})
    with pytest.raises(StoredFileNotFoundError):
        export_store.get_bytes("r/missing.json")
