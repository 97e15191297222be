"""Delivery of an export as one zip, with a time-limited read-only link to it.

The zip is assembled in a temporary file (one member in memory at a time) and streamed to the
container. The link is a SAS for that one blob, read permission only: in Azure a *user delegation*
SAS, signed with a key the app's managed identity obtains (no storage account key involved); on the
local stack, where Azurite has no identity, a service SAS signed with Azurite's well-known account key.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from azure.core.exceptions import AzureError
from azure.storage.blob import BlobClient, BlobSasPermissions, BlobServiceClient, generate_blob_sas

from dsr import layout
from dsr.config import Settings
from dsr.errors import ConfigurationError
from dsr.storage import ExportStore, FileRef, StorageUnavailableError
from dsr.times import format_time

CHUNK = 1024 * 1024
CLOCK_SKEW = timedelta(minutes=5)
"""A link starts a little in the past so a client whose clock runs behind can use it at once."""
_STORED = (".png", ".jpg", ".gif", ".bmp", ".zip")  # already compressed: deflating wastes CPU


@dataclass(frozen=True)
class Delivery:
    zip: FileRef
    url: str
    expires_at: datetime

    def to_json(self) -> dict[str, object]:
        return {"zip": dict(self.zip.to_json()), "url": self.url, "expiresAt": format_time(self.expires_at)}


def _file_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    handle.seek(0)
    while chunk := handle.read(CHUNK):
        yield chunk


def write_zip(
    store: ExportStore,
    request_id: str,
    members: Iterable[str],
    extra: Mapping[str, Iterable[bytes]],
) -> FileRef:
    """Zip ``members`` (paths relative to the export root) and ``extra`` (name → streamed content) into the
    delivery blob."""
    with tempfile.NamedTemporaryFile(suffix=".zip") as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in members:
                method = zipfile.ZIP_STORED if member.lower().endswith(_STORED) else zipfile.ZIP_DEFLATED
                archive.writestr(
                    member, store.get_bytes(layout.export_member(request_id, member)), compress_type=method
                )
            for name, chunks in extra.items():
                with archive.open(name, "w") as target:
                    for chunk in chunks:
                        target.write(chunk)
        handle.flush()
        return store.put_stream(layout.delivery_zip(request_id), _file_chunks(handle), "application/zip")


def read_only_link(settings: Settings, path: str, now: datetime) -> tuple[str, datetime]:
    """A URL that lets its holder read the blob at ``path`` until the returned expiry, nothing else."""
    expiry = now + timedelta(minutes=settings.delivery_link_minutes)
    start = now - CLOCK_SKEW
    permission = BlobSasPermissions(read=True)
    try:
        if settings.storage_connection.startswith("https://"):
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(settings.storage_connection, credential=DefaultAzureCredential())
            key = service.get_user_delegation_key(start, expiry)
            blob = service.get_blob_client(settings.export_container, path)
            token = generate_blob_sas(
                blob.account_name or "",
                settings.export_container,
                path,
                user_delegation_key=key,
                permission=permission,
                expiry=expiry,
                start=start,
                protocol="https",
            )
        else:
            blob = BlobClient.from_connection_string(
                settings.storage_connection, settings.export_container, path
            )
            account_key = getattr(blob.credential, "account_key", None)
            if not account_key:
                raise ConfigurationError("DSR_STORAGE_CONNECTION has no account key to sign a link with")
            token = generate_blob_sas(
                blob.account_name or "",
                settings.export_container,
                path,
                account_key=account_key,
                permission=permission,
                expiry=expiry,
                start=start,
            )
    except AzureError as exc:
        raise StorageUnavailableError("could not obtain a key to sign the delivery link") from exc
    return f"{blob.url}?{token}", expiry
