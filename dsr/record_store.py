"""The records container: what outlives the exports it describes — status documents, sealed receipts
and their chain heads, request records, approval decisions.

In Azure it sits in its own storage account with blob versioning and a version-level WORM policy
(``infra/app/records.bicep``): an overwrite makes a new current version while every earlier version
stays, unmodifiable and undeletable, for the immutability period. Reads see the current version.
Locally it is an ordinary Azurite container (Azurite has no immutability), which is why the receipt
hash chain (``dsr/chain.py``) can be shown to catch an altered receipt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContentSettings

from dsr.errors import TransientError
from dsr.storage import JSON_CONTENT_TYPE, BlobExportStore, StorageUnavailableError, StoredFileNotFoundError


class RecordConflictError(TransientError):
    """A conditional write lost a race: the blob changed since it was read."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path!r} changed while it was being updated")
        self.path = path


@dataclass(frozen=True)
class Versioned:
    """A blob's content with the ETag that a conditional write must match."""

    data: bytes
    etag: str


class RecordStore(BlobExportStore):
    """The records container; adds reads with an ETag and compare-and-swap writes."""

    def read(self, path: str) -> Versioned | None:
        """The current content and ETag of ``path``, or None when it does not exist."""
        try:
            downloader = self._container.download_blob(path)
            data = downloader.readall()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StorageUnavailableError(f"could not read {path!r}") from exc
        return Versioned(data, str(downloader.properties.etag))

    def exists(self, path: str) -> bool:
        try:
            return bool(self._container.get_blob_client(path).exists())
        except AzureError as exc:
            raise StorageUnavailableError(f"could not look up {path!r}") from exc

    def replace(self, path: str, data: bytes, etag: str | None) -> None:
        """Write ``path`` only if it is unchanged since read with ``etag`` (None: only if it is absent).

        Raises :class:`RecordConflictError` when another writer got there first.
        """
        self._ensure_container()
        condition = (
            {"overwrite": True, "etag": etag, "match_condition": MatchConditions.IfNotModified}
            if etag is not None
            else {"overwrite": False}
        )
        try:
            self._container.upload_blob(
                path,
                data,
                content_settings=ContentSettings(content_type=JSON_CONTENT_TYPE),
                **condition,
            )
        except (ResourceModifiedError, ResourceExistsError) as exc:
            raise RecordConflictError(path) from exc
        except AzureError as exc:
            raise StorageUnavailableError(f"could not write {path!r}") from exc

    def update_metadata(self, path: str, values: Mapping[str, str]) -> None:
        """Set some metadata by writing a new version with the same content and the merged metadata.

        Set Blob Metadata would modify a version the WORM policy protects, which Azure refuses; an
        overwrite makes a new current version and keeps the old one, which the policy allows. The
        write is conditional on the ETag read, so a concurrent writer is never overwritten.
        """
        blob = self._container.get_blob_client(path)
        try:
            downloader = blob.download_blob()
            data = downloader.readall()
            properties = downloader.properties
            blob.upload_blob(
                data,
                overwrite=True,
                metadata={**(properties.metadata or {}), **values},
                content_settings=ContentSettings(content_type=properties.content_settings.content_type),
                etag=properties.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceNotFoundError as exc:
            raise StoredFileNotFoundError(path) from exc
        except ResourceModifiedError as exc:
            raise RecordConflictError(path) from exc
        except AzureError as exc:
            raise StorageUnavailableError(f"could not update {path!r}") from exc
