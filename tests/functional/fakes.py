"""In-memory fakes for the fast functional tier: a store, a secret store, a store that crashes."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping

from dsr.storage import BLOCK_SIZE, FileRef, StoredFileExistsError, StoredFileNotFoundError


class MemoryStore:
    """:class:`dsr.storage.ExportStore` in a dict, with the same first-writer-wins ``create_bytes``."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def put_bytes(
        self, path: str, data: bytes, content_type: str, *, metadata: Mapping[str, str] | None = None
    ) -> FileRef:
        with self._lock:
            self.files[path] = (data, content_type)
            self.metadata[path] = dict(metadata or {})
        return FileRef(path, len(data), hashlib.sha256(data).hexdigest(), content_type)

    def create_bytes(self, path: str, data: bytes, content_type: str) -> FileRef:
        with self._lock:
            if path in self.files:
                raise StoredFileExistsError(path)
            self.files[path] = (data, content_type)
        return FileRef(path, len(data), hashlib.sha256(data).hexdigest(), content_type)

    def put_bytes_if_match(self, path: str, data: bytes, content_type: str, etag: str) -> FileRef:
        """``BlobExportStore.put_bytes_if_match``; a file's ETag here is the sha256 of its content."""
        with self._lock:
            current = self.files.get(path)
            if current is None or hashlib.sha256(current[0]).hexdigest() != etag:
                raise StoredFileExistsError(path)
            self.files[path] = (data, content_type)
            self.metadata[path] = {}
        return FileRef(path, len(data), hashlib.sha256(data).hexdigest(), content_type)

    def put_stream(
        self, path: str, chunks: Iterable[bytes], content_type: str, *, block_size: int = BLOCK_SIZE
    ) -> FileRef:
        return self.put_bytes(path, b"".join(chunks), content_type)

    def get_bytes(self, path: str) -> bytes:
        with self._lock:
            if path not in self.files:
                raise StoredFileNotFoundError(path)
            return self.files[path][0]

    def list_files(self, prefix: str) -> list[FileRef]:
        with self._lock:
            items = sorted((p, d, t) for p, (d, t) in self.files.items() if p.startswith(prefix))
        return [FileRef(p, len(d), hashlib.sha256(d).hexdigest(), t) for p, d, t in items]

    def list_page(
        self, prefix: str, page_size: int, token: str | None
    ) -> tuple[list[tuple[str, dict[str, str]]], str | None]:
        with self._lock:
            names = sorted(p for p in self.files if p.startswith(prefix) and (token is None or p > token))
            page = [(name, dict(self.metadata.get(name, {}))) for name in names[:page_size]]
        return page, page[-1][0] if len(names) > page_size else None

    def update_metadata(self, path: str, values: Mapping[str, str]) -> None:
        with self._lock:
            if path not in self.files:
                raise StoredFileNotFoundError(path)
            self.metadata.setdefault(path, {}).update(values)


class SimulatedCrash(BaseException):
    """Raised by :class:`CrashingStore` where the host would have been killed. A BaseException, so no
    ``except Exception`` in the code under test can swallow it, just as nothing survives ``kill -9``."""


class CrashingStore(MemoryStore):
    """A :class:`MemoryStore` whose ``crash_when(path)`` decides, before each write, to die instead."""

    def __init__(self, base: MemoryStore, crash_when: Callable[[str], bool]) -> None:
        super().__init__()
        self.files = base.files
        self.metadata = base.metadata
        self._crash_when = crash_when

    def put_bytes(
        self, path: str, data: bytes, content_type: str, *, metadata: Mapping[str, str] | None = None
    ) -> FileRef:
        if self._crash_when(path):
            raise SimulatedCrash(path)
        return super().put_bytes(path, data, content_type, metadata=metadata)


class KeyOnlySecrets:
    """A secret store that holds one training key (the functional tier is not about Key Vault)."""

    def __init__(self, key: str) -> None:
        self._key = key

    def resolve_version(self, name: str) -> str:
        return "0" * 32

    def get_secret(self, name: str, version: str) -> str:
        return self._key
