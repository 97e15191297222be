"""The Blob export store against Azurite: streamed writes, sha256 bookkeeping, listing."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import ClassVar

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from dsr.storage import (
    BLOCK_SIZE,
    DOCUMENT_BLOCK_SIZE,
    SHA256_METADATA_KEY,
    BlobExportStore,
    StorageUnavailableError,
    StoredFileExistsError,
    StoredFileNotFoundError,
    get_json,
    put_json,
    put_ndjson,
)

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


def _store_and_container(connection: str) -> tuple[BlobExportStore, ContainerClient]:
    """A store on a new container, and the SDK's own client for that container to look behind it."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    service = BlobServiceClient.from_connection_string(connection)
    return BlobExportStore.from_connection(connection, name), service.get_container_client(name)


def test_small_file_is_one_put_with_its_sha256_and_content_type(storage_connection):
    store, container = _store_and_container(storage_connection)
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
    ref = store.put_stream("r/img.png", iter((data[:100], data[100:])), "image/png")
    blob = container.get_blob_client("r/img.png")
    properties = blob.get_blob_properties()
    assert (
        properties.metadata
        == {SHA256_METADATA_KEY: hashlib.sha256(data).hexdigest()}
        == {SHA256_METADATA_KEY: ref.sha256}
    )
    assert properties.content_settings.content_type == "image/png"
    committed, _ = blob.get_block_list("committed")
    assert committed == []  # Put Blob: no staged blocks


def test_large_stream_goes_as_blocks_with_its_sha256_and_content_type(storage_connection):
    store, container = _store_and_container(storage_connection)
    data = os.urandom(BLOCK_SIZE * 2 + 100)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    store.put_stream("r/big.png", iter(chunks), "image/png")
    blob = container.get_blob_client("r/big.png")
    committed, _ = blob.get_block_list("committed")
    assert [block.size for block in committed] == [BLOCK_SIZE, BLOCK_SIZE, 100]
    properties = blob.get_blob_properties()
    assert properties.metadata == {SHA256_METADATA_KEY: hashlib.sha256(data).hexdigest()}
    assert properties.content_settings.content_type == "image/png"


def test_create_is_first_writer_wins(export_store):
    export_store.create_bytes("r/claim.json", b"first", "application/json")
    with pytest.raises(StoredFileExistsError):
        export_store.create_bytes("r/claim.json", b"second", "application/json")
    assert export_store.get_bytes("r/claim.json") == b"first"


class _RecordingProxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy that records each request line and refuses it."""

    seen: ClassVar[list[str]] = []

    def _refuse(self) -> None:
        self.seen.append(self.requestline)
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _refuse

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``seen``."""


@pytest.fixture
def proxy() -> Iterator[str]:
    _RecordingProxy.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _new_store(connection: str) -> BlobExportStore:
    return _store_and_container(connection)[0]


def test_a_proxy_from_the_environment_is_used(storage_connection, proxy, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    store = _new_store(storage_connection)
    with pytest.raises(StorageUnavailableError):
        store.put_bytes("r/a.json", b"{}", "application/json")
    # A forward proxy is sent the absolute URI of the storage account.
    assert _RecordingProxy.seen
    assert all(" http://127.0.0.1:" in line for line in _RecordingProxy.seen)


def test_no_proxy_for_the_storage_host_goes_direct(storage_connection, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    store = _new_store(storage_connection)
    store.put_bytes("r/a.json", b"{}", "application/json")
    assert store.get_bytes("r/a.json") == b"{}"
    assert _RecordingProxy.seen == []


def test_the_environment_is_read_when_the_client_is_built_not_per_request(
    storage_connection, proxy, monkeypatch
):
    # Reading proxy settings on every request scans the whole environment twice per upload.
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    store = _new_store(storage_connection)
    store.put_bytes("r/a.json", b"{}", "application/json")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    store.put_bytes("r/b.json", b"{}", "application/json")
    assert _RecordingProxy.seen == []


def test_netrc_credentials_never_replace_the_storage_authorization(storage_connection, tmp_path, monkeypatch):
    # requests would send ~/.netrc's login for a matching host as Basic auth over the SDK's own
    # Authorization header, and the service would refuse every call.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password something\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    store = _new_store(storage_connection)
    store.put_bytes("r/a.json", b"{}", "application/json")
    assert store.get_bytes("r/a.json") == b"{}"


HTTP_LOG = "azure.core.pipeline.policies.http_logging_policy"


def test_writes_log_no_request_records_at_info(export_store, caplog):
    # The Functions worker forwards INFO to the host: a record per request would be two per image.
    caplog.set_level(logging.INFO)
    export_store.put_bytes("r/a.json", b"{}", "application/json")
    export_store.put_stream("r/b.png", iter((b"\x89PNG\r\n\x1a\n",)), "image/png")
    assert [r for r in caplog.records if r.name == HTTP_LOG] == []


def test_request_records_are_there_at_debug(export_store, caplog):
    caplog.set_level(logging.DEBUG, logger=HTTP_LOG)
    export_store.put_bytes("r/a.json", b"{}", "application/json")
    logged = [r.getMessage() for r in caplog.records if r.name == HTTP_LOG]
    assert any("Request method: 'PUT'" in message for message in logged)


@pytest.mark.parametrize(
    ("total", "chunk", "blocks"),
    [
        (BLOCK_SIZE - 1, 65536, []),  # under a block: one Put Blob
        (BLOCK_SIZE, 65536, [BLOCK_SIZE]),
        (BLOCK_SIZE * 2 + 7, BLOCK_SIZE * 2 + 7, [BLOCK_SIZE, BLOCK_SIZE, 7]),  # one chunk, many blocks
        (BLOCK_SIZE + 3, 1_000_003, [BLOCK_SIZE, 3]),  # chunks that straddle the block boundary
    ],
)
def test_streams_are_cut_into_whole_blocks(storage_connection, total, chunk, blocks):
    store, container = _store_and_container(storage_connection)
    data = os.urandom(total)
    ref = store.put_stream("r/f.bin", (data[i : i + chunk] for i in range(0, total, chunk)), "image/bmp")
    blob = container.get_blob_client("r/f.bin")
    committed, _ = blob.get_block_list("committed")
    assert [block.size for block in committed] == blocks
    assert (ref.size, ref.sha256) == (total, hashlib.sha256(data).hexdigest())
    assert blob.get_blob_properties().metadata == {SHA256_METADATA_KEY: ref.sha256}
    assert store.get_bytes("r/f.bin") == data


def _generated_records(count: int) -> Iterator[dict[str, object]]:
    for n in range(count):
        yield {"id": str(uuid.UUID(int=n)), "metadata": {"subjectId": f"s-{n % 7}"}, "note": "x" * 200}


def test_generated_documents_go_in_document_blocks(storage_connection):
    """A manifest or COCO file of a large project is megabytes the app generates: it is staged in
    small blocks (the head of a 10 MB document is not held as one image-sized block)."""
    store, container = _store_and_container(storage_connection)
    ref = put_ndjson(store, "r/records.ndjson", _generated_records(5_000))
    committed, _ = container.get_blob_client("r/records.ndjson").get_block_list("committed")
    sizes = [block.size for block in committed]
    assert ref.size > 2 * DOCUMENT_BLOCK_SIZE
    assert sizes[:-1] == [DOCUMENT_BLOCK_SIZE] * (len(sizes) - 1)
    assert sum(sizes) == ref.size
    assert hashlib.sha256(store.get_bytes("r/records.ndjson")).hexdigest() == ref.sha256


def test_copied_bytes_still_go_in_image_sized_blocks(storage_connection):
    """An original under BLOCK_SIZE stays one Put Blob, however many document blocks it spans."""
    store, container = _store_and_container(storage_connection)
    data = os.urandom(3 * DOCUMENT_BLOCK_SIZE)
    store.put_stream("r/photo.jpg", iter((data,)), "image/jpeg")
    committed, _ = container.get_blob_client("r/photo.jpg").get_block_list("committed")
    assert committed == []


def test_streaming_a_large_generated_document_holds_a_few_document_blocks(storage_connection):
    store = _new_store(storage_connection)
    put_ndjson(store, "r/warm.ndjson", _generated_records(10))  # the container and the client's pool
    tracemalloc.start()
    try:
        ref = put_ndjson(store, "r/records.ndjson", _generated_records(40_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ref.size > 8 * 2**20
    assert peak < 6 * DOCUMENT_BLOCK_SIZE, f"peak {peak} bytes to stream {ref.size}"


@pytest.mark.parametrize("size", [2 * 2**20, 6 * 2**20])
def test_reading_a_file_holds_it_about_twice_at_most(storage_connection, size):
    # Before: the SDK's first GET (up to 32 MiB) held about 8.6 times what it read: a delete unit's
    # 2.3 MB plan, read back at every resumed call, cost 20 MiB, and a 6 MiB original read back for
    # the zip more than 40.
    store = _new_store(storage_connection)
    data = os.urandom(size)
    store.put_bytes("r/warm.bin", b"warm", "application/octet-stream")
    store.get_bytes("r/warm.bin")
    store.put_bytes("r/document.bin", data, "application/octet-stream")
    tracemalloc.start()
    try:
        read = store.get_bytes("r/document.bin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == data
    assert peak < 2.5 * size, f"peak {peak} bytes to read {size}"
