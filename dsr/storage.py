"""Where exports, receipts and status documents are written: a private Blob Storage container.

Every write returns a :class:`FileRef` (path, size, sha256) — the small reference that travels through
the orchestrator instead of the data. Large content is streamed in blocks, so memory stays flat however
many images an export copies. The sha256 is stored as blob metadata so a manifest can be built by
listing, without reading the data back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypedDict

import requests
from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobBlock, BlobServiceClient, ContainerClient, ContentSettings
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

from dsr.errors import PermanentError, TransientError

BLOCK_SIZE = 4 * 1024 * 1024
"""Bytes buffered before a block of copied bytes (an original, the zip) is staged: the most memory one
such upload holds. An original under it (most are) is one Put Blob rather than stage + commit."""
DOCUMENT_BLOCK_SIZE = 256 * 1024
"""The same for documents the app generates (NDJSON, JSON, COCO, the manifest): a large project's are
megabytes, written one after the other while the host's memory should not grow with the project."""
SHA256_METADATA_KEY = "sha256"
JSON_CONTENT_TYPE = "application/json"
READ_WINDOW = 256 * 1024
"""The most one GET of :meth:`BlobExportStore.get_bytes` asks for; a larger file is read in ranges of
this size. The SDK holds about 8.6 times what one GET reads while it reads it (its default first GET
of up to 32 MiB made a 2.3 MB delete plan cost 20 MiB, a 6 MiB original read back for a zip 57 MB),
so reading a file costs about twice its size plus 2 MiB this way."""
HTTP_BAD_REQUEST = 400


class FileRefJson(TypedDict):
    path: str
    bytes: int
    sha256: str
    contentType: str


@dataclass(frozen=True)
class FileRef:
    """A file written to the export container."""

    path: str
    size: int
    sha256: str
    content_type: str

    def to_json(self) -> FileRefJson:
        return {
            "path": self.path,
            "bytes": self.size,
            "sha256": self.sha256,
            "contentType": self.content_type,
        }


class StorageUnavailableError(TransientError):
    """Blob Storage could not be reached or refused the call temporarily."""


class StoredFileNotFoundError(PermanentError):
    """A file expected in the export container does not exist."""

    def __init__(self, path: str) -> None:
        super().__init__(f"stored file {path!r} not found")
        self.path = path


class StoredFileExistsError(PermanentError):
    """A file that was to be created only if absent already exists (someone else wrote it first)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"stored file {path!r} already exists")
        self.path = path


class ExportStore(Protocol):
    """What the domain needs from storage."""

    def put_bytes(
        self, path: str, data: bytes, content_type: str, *, metadata: Mapping[str, str] | None = None
    ) -> FileRef:
        """Write ``path`` (replacing it), with ``metadata`` beside the sha256 the store keeps itself."""
        ...

    def create_bytes(self, path: str, data: bytes, content_type: str) -> FileRef:
        """Write ``path`` only if it does not exist yet, in one conditional request (first writer wins);
        raise :class:`StoredFileExistsError` otherwise."""
        ...

    def put_stream(
        self, path: str, chunks: Iterable[bytes], content_type: str, *, block_size: int = BLOCK_SIZE
    ) -> FileRef:
        """Write ``chunks`` holding at most about ``block_size`` bytes of them at a time."""
        ...

    def get_bytes(self, path: str) -> bytes: ...

    def list_files(self, prefix: str) -> list[FileRef]: ...

    def list_page(
        self, prefix: str, page_size: int, token: str | None
    ) -> tuple[list[tuple[str, dict[str, str]]], str | None]:
        """One page of (path, metadata) under ``prefix``, in path order, and the next page's token."""
        ...

    def update_metadata(self, path: str, values: Mapping[str, str]) -> None:
        """Set some metadata of an existing file, keeping the rest (the sha256)."""
        ...


class InvalidPageTokenError(PermanentError):
    """A continuation token that Blob Storage did not hand out (or no longer accepts)."""


JSON_PIECE_CHARS = 64 * 1024
"""About how much encoded JSON :func:`put_json` joins before handing it to the store."""


def _json_encoder() -> json.JSONEncoder:
    return json.JSONEncoder(indent=2, ensure_ascii=False)


def _json_bytes(document: Any) -> bytes:
    return _json_encoder().encode(document).encode()


def _json_pieces(document: Any) -> Iterator[bytes]:
    """``document`` as :func:`_json_bytes` encodes it, in pieces of about JSON_PIECE_CHARS. The
    indenting encoder yields a few fragments per value; ``json.dumps`` lists them all and joins them,
    five times the document's size at once (a receipt of 25k ids is 2.3 MB)."""
    piece: list[str] = []
    size = 0
    for fragment in _json_encoder().iterencode(document):
        piece.append(fragment)
        size += len(fragment)
        if size >= JSON_PIECE_CHARS:
            yield "".join(piece).encode()
            piece, size = [], 0
    if piece:
        yield "".join(piece).encode()


def put_json(store: ExportStore, path: str, document: Any) -> FileRef:
    """Write one JSON document (UTF-8, indented for people), encoded as it is written."""
    return store.put_stream(path, _json_pieces(document), JSON_CONTENT_TYPE, block_size=DOCUMENT_BLOCK_SIZE)


def create_json(store: ExportStore, path: str, document: Any) -> FileRef:
    """Write one JSON document only if ``path`` is absent; raise :class:`StoredFileExistsError` if not."""
    return store.create_bytes(path, _json_bytes(document), JSON_CONTENT_TYPE)


def put_ndjson(store: ExportStore, path: str, records: Iterable[Mapping[str, Any]]) -> FileRef:
    """Stream records as newline-delimited JSON; never holds more than one block in memory."""

    def lines() -> Iterator[bytes]:
        for record in records:
            yield json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    return store.put_stream(path, lines(), "application/x-ndjson", block_size=DOCUMENT_BLOCK_SIZE)


def get_json(store: ExportStore, path: str) -> Any:
    return json.loads(store.get_bytes(path))


def container_client(connection: str, container_name: str, pool_size: int = 10) -> ContainerClient:
    """A container client from a connection string, or an https account URL (managed identity).

    ``pool_size``: the threads that may use it at once. One pooled connection each, or urllib3 opens
    and throws away connections ("Connection pool is full") when more threads upload than its 10.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # requests reads proxy settings from the environment on every request (twice over, each a scan of
    # the whole environment: ~15% of the CPU of a small upload here) and adds ~/.netrc credentials,
    # which would replace the SDK's own Authorization header. The environment is read once instead,
    # below, for the one host this client talks to; netrc is not used.
    session.trust_env = False
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    transport = RequestsTransport(session=session, session_owner=True, connection_verify=verify)
    # azure-core logs every request and response, headers included, at INFO, and the Functions worker
    # forwards INFO to the host and Application Insights: two formatted records per blob written.
    # At DEBUG they are still there for whoever turns DEBUG on to look into storage calls.
    quiet = {
        "transport": transport,
        "http_logging_level": logging.DEBUG,
        "max_single_get_size": READ_WINDOW,
        "max_chunk_get_size": READ_WINDOW,
    }
    if connection.startswith("https://"):
        from azure.identity import DefaultAzureCredential

        service = BlobServiceClient(account_url=connection, credential=DefaultAzureCredential(), **quiet)
    else:
        service = BlobServiceClient.from_connection_string(connection, **quiet)
    session.proxies = get_environ_proxies(service.url)
    return service.get_container_client(container_name)


def _take(buffer: bytearray, size: int) -> bytes:
    """The first ``size`` bytes of ``buffer``, removed from it; copied once (a slice of a bytearray
    would be a second copy)."""
    with memoryview(buffer) as view:
        taken = bytes(view[:size])
    del buffer[:size]
    return taken


class BlobExportStore:
    """:class:`ExportStore` on one private Blob Storage container (Azurite locally)."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container
        self._ensured = False

    @classmethod
    def from_connection(cls, connection: str, container_name: str, pool_size: int = 10) -> Self:
        """``connection`` is a connection string, or an https account URL used with managed identity;
        ``pool_size`` the threads that may write at once."""
        return cls(container_client(connection, container_name, pool_size))

    def _ensure_container(self) -> None:
        if self._ensured:
            return
        try:
            self._container.create_container()  # private: no public_access argument
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise StorageUnavailableError("could not create the export container") from exc
        self._ensured = True

    def put_bytes(
        self, path: str, data: bytes, content_type: str, *, metadata: Mapping[str, str] | None = None
    ) -> FileRef:
        return self._upload(path, data, content_type, overwrite=True, metadata=metadata)

    def create_bytes(self, path: str, data: bytes, content_type: str) -> FileRef:
        # overwrite=False sends If-None-Match: *, so the service decides the race, not this process.
        return self._upload(path, data, content_type, overwrite=False)

    def put_bytes_if_match(self, path: str, data: bytes, content_type: str, etag: str) -> FileRef:
        """Replace ``path`` only if it is still the version whose ETag is ``etag`` (as
        :meth:`dsr.record_store.RecordStore.read` hands it out), in one conditional request (If-Match):
        of writers holding the same ETag, one wins. The sha256 is kept as :meth:`put_bytes` keeps it.

        Raises :class:`StoredFileExistsError` when ``path`` has changed since, or is gone.
        """
        return self._upload(path, data, content_type, overwrite=True, etag=etag)

    def _upload(
        self,
        path: str,
        data: bytes,
        content_type: str,
        *,
        overwrite: bool,
        metadata: Mapping[str, str] | None = None,
        etag: str | None = None,
    ) -> FileRef:
        """One Put Blob with the sha256 in its metadata; ``overwrite=False`` only if absent, ``etag``
        only if unchanged: a lost condition is :class:`StoredFileExistsError`."""
        self._ensure_container()
        digest = hashlib.sha256(data).hexdigest()
        condition: dict[str, Any] = {}
        lost: tuple[type[AzureError], ...] = (ResourceExistsError,)
        if etag is not None:
            condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
            lost = (ResourceModifiedError, ResourceNotFoundError)
        try:
            self._container.upload_blob(
                path,
                data,
                overwrite=overwrite,
                metadata={**(metadata or {}), SHA256_METADATA_KEY: digest},
                content_settings=ContentSettings(content_type=content_type),
                **condition,
            )
        except lost as exc:
            raise StoredFileExistsError(path) from exc
        except AzureError as exc:
            raise StorageUnavailableError(f"could not write {path!r}") from exc
        return FileRef(path, len(data), digest, content_type)

    def put_stream(
        self, path: str, chunks: Iterable[bytes], content_type: str, *, block_size: int = BLOCK_SIZE
    ) -> FileRef:
        iterator = iter(chunks)
        head: list[bytes] = []
        size = 0
        for chunk in iterator:
            head.append(chunk)
            size += len(chunk)
            if size >= block_size:
                break
        else:
            # Most images are far smaller than a block: one request instead of stage + commit. The
            # chunks are joined once (a single chunk, the usual small image, is not copied at all).
            return self.put_bytes(path, b"".join(head), content_type)
        self._ensure_container()
        blob = self._container.get_blob_client(path)
        buffer = bytearray().join(head)
        del head  # its chunks are in the buffer now, and would be held to the end of the upload
        digest = hashlib.sha256(buffer)
        blocks: list[BlobBlock] = []

        def stage(data: bytes) -> None:
            block_id = base64.b64encode(f"{len(blocks):08d}".encode()).decode()
            blob.stage_block(block_id, data)
            blocks.append(BlobBlock(block_id=block_id))

        try:
            while len(buffer) >= block_size:
                stage(_take(buffer, block_size))
            for chunk in iterator:
                digest.update(chunk)
                size += len(chunk)
                buffer.extend(chunk)
                while len(buffer) >= block_size:
                    stage(_take(buffer, block_size))
            if buffer:
                stage(bytes(buffer))
            sha = digest.hexdigest()
            blob.commit_block_list(
                blocks,
                metadata={SHA256_METADATA_KEY: sha},
                content_settings=ContentSettings(content_type=content_type),
            )
        except AzureError as exc:
            raise StorageUnavailableError(f"could not write {path!r}") from exc
        return FileRef(path, size, sha, content_type)

    def get_bytes(self, path: str) -> bytes:
        try:
            return self._container.download_blob(path).readall()
        except ResourceNotFoundError as exc:
            raise StoredFileNotFoundError(path) from exc
        except AzureError as exc:
            raise StorageUnavailableError(f"could not read {path!r}") from exc

    def list_files(self, prefix: str) -> list[FileRef]:
        self._ensure_container()
        try:
            return [
                FileRef(
                    item.name,
                    int(item.size),
                    (item.metadata or {}).get(SHA256_METADATA_KEY, ""),
                    item.content_settings.content_type or "application/octet-stream",
                )
                for item in self._container.list_blobs(name_starts_with=prefix, include=["metadata"])
            ]
        except AzureError as exc:
            raise StorageUnavailableError(f"could not list {prefix!r}") from exc

    def list_page(
        self, prefix: str, page_size: int, token: str | None
    ) -> tuple[list[tuple[str, dict[str, str]]], str | None]:
        self._ensure_container()
        try:
            pages = self._container.list_blobs(
                name_starts_with=prefix, include=["metadata"], results_per_page=page_size
            ).by_page(continuation_token=token)
            items = [(item.name, dict(item.metadata or {})) for item in next(pages)]
        except StopIteration:
            return [], None
        except HttpResponseError as exc:
            if token is not None and exc.status_code == HTTP_BAD_REQUEST:
                raise InvalidPageTokenError("not a continuation token of this listing") from exc
            raise StorageUnavailableError(f"could not list {prefix!r}") from exc
        except AzureError as exc:
            raise StorageUnavailableError(f"could not list {prefix!r}") from exc
        # The page iterator carries the marker; the SDK's annotations only say Iterator.
        following: str | None = getattr(pages, "continuation_token", None)
        return items, following or None

    def update_metadata(self, path: str, values: Mapping[str, str]) -> None:
        blob = self._container.get_blob_client(path)
        try:
            current = blob.get_blob_properties().metadata or {}
            blob.set_blob_metadata({**current, **values})
        except ResourceNotFoundError as exc:
            raise StoredFileNotFoundError(path) from exc
        except AzureError as exc:
            raise StorageUnavailableError(f"could not update {path!r}") from exc
