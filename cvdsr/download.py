"""``download``: copy a request's files (export, receipts, status) from the export container to a folder.

Reads Blob Storage directly with the operator's own access: a connection string (local Azurite), or the
account's blob URL with ``DefaultAzureCredential`` (a deployed app; needs Storage Blob Data Reader).
The app's HTTP API never serves the exported personal data itself. Every file is checked against the
sha256 the app stored with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from cvdsr.client import CliError

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

SHA256_METADATA_KEY = "sha256"
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Downloaded:
    """What ``download`` copied."""

    folder: Path
    files: int
    bytes: int
    verified: int
    """Files whose sha256 matched the one stored with the blob (the rest had none stored)."""


def container_client(storage: str, container: str) -> ContainerClient:
    """``storage`` is a connection string or an ``https://<account>.blob.core.windows.net`` URL."""
    # Imported here: the Azure SDKs take seconds to import, and only download needs them.
    from azure.storage.blob import ContainerClient

    if storage.startswith("https://"):
        from azure.identity import DefaultAzureCredential

        return ContainerClient(storage, container, credential=DefaultAzureCredential())
    try:
        return ContainerClient.from_connection_string(storage, container)
    except ValueError as exc:
        raise CliError("--storage is neither a connection string nor an https:// blob URL") from exc


def _safe_relative(name: str, prefix: str) -> PurePosixPath:
    relative = PurePosixPath(name.removeprefix(prefix))
    if relative.is_absolute() or ".." in relative.parts:
        raise CliError(f"refusing to write blob {name!r} outside the target folder")
    return relative


def download(container: ContainerClient, request_id: str, target: Path) -> Downloaded:
    """Copy every blob under ``<request_id>/`` into ``target``, verifying sha256 where stored."""
    from azure.core.exceptions import AzureError

    prefix = f"{request_id}/"
    files = size = verified = 0
    try:
        for blob in container.list_blobs(name_starts_with=prefix, include=["metadata"]):
            path = target / _safe_relative(blob.name, prefix)
            path.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with path.open("wb") as handle:
                for chunk in container.download_blob(blob.name).chunks():
                    digest.update(chunk)
                    handle.write(chunk)
            expected = (blob.metadata or {}).get(SHA256_METADATA_KEY)
            if expected:
                if digest.hexdigest() != expected:
                    raise CliError(f"{blob.name}: sha256 does not match the stored one (download again)")
                verified += 1
            files += 1
            size += int(blob.size)
    except AzureError as exc:
        raise CliError(f"cannot read the export container: {type(exc).__name__}") from exc
    if files == 0:
        raise CliError(f"no files for request {request_id!r} in container {container.container_name!r}")
    return Downloaded(target, files, size, verified)
