"""``download``: copy a request's files to a folder: its export from the export container, its status
document and sealed receipts from the records container.

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


def download(containers: list[ContainerClient], request_id: str, target: Path) -> Downloaded:
    """Copy every blob under ``<request_id>/`` of each container into ``target``, in order (a later
    container's file replaces an earlier one's), verifying sha256 where stored."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    prefix = f"{request_id}/"
    copied: dict[Path, int] = {}
    verified: set[Path] = set()
    for container in containers:
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
                verified.discard(path)
                if expected:
                    if digest.hexdigest() != expected:
                        raise CliError(f"{blob.name}: sha256 does not match the stored one (download again)")
                    verified.add(path)
                copied[path] = int(blob.size)
        except ResourceNotFoundError:
            continue  # that container does not exist (yet): nothing of this request in it
        except AzureError as exc:
            raise CliError(
                f"cannot read container {container.container_name!r}: {type(exc).__name__}"
            ) from exc
    if not copied:
        names = ", ".join(repr(c.container_name) for c in containers)
        raise CliError(f"no files for request {request_id!r} in {names}")
    return Downloaded(target, len(copied), sum(copied.values()), len(verified))
