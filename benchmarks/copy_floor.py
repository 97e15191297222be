"""The copy floor: how fast this machine copies an account's images with no app in the way.

An export copies every image from Custom Vision's blob URLs into the export container; those
downloads are not rate-limited, so besides the call bound the export can be no faster than the
machine copies bytes. This copies the same images the same way the export does at its best — the
export's download concurrency (``dsr.runtime.DOWNLOAD_CONCURRENCY``), one GET and one upload with the
sha256 metadata each — from the same emulator into the same Azurite, and times only the copying (the
listing first is not timed). Emulator, Azurite and the copier share the machine's cores, as they do
when the app runs.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter

from benchmarks.baseline_sdk import PAGE, _client
from dsr.runtime import DOWNLOAD_CONCURRENCY
from dsr.storage import container_client


def _image_uris(endpoint: str, key: str) -> list[str]:
    """Every workspace image's original URI, tagged and untagged, of every project (not timed). The
    benchmark's data has no images that only iterations hold, so these are all the export copies."""
    client = _client(endpoint, key)
    uris: list[str] = []
    for project in client.get_projects():
        for listing in (client.get_tagged_images, client.get_untagged_images):
            skip = 0
            while True:
                page = listing(project.id, take=PAGE, skip=skip)
                uris += [image.original_image_uri for image in page if image.original_image_uri]
                if len(page) < PAGE:
                    break
                skip += len(page)
    return uris


def measure(endpoint: str, key: str, connection: str, container_name: str) -> tuple[float, int]:
    """(seconds, images) to copy the account's images into a new container, deleted afterwards (so
    what it stored does not weigh on the runs after it)."""
    uris = _image_uris(endpoint, key)
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=DOWNLOAD_CONCURRENCY)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    container = container_client(connection, container_name, pool_size=DOWNLOAD_CONCURRENCY)
    container.create_container()

    def copy(numbered: tuple[int, str]) -> None:
        number, uri = numbered
        response = session.get(uri, timeout=60)
        response.raise_for_status()  # an error page copied would flatter the floor
        data = response.content
        digest = hashlib.sha256(data).hexdigest()
        container.upload_blob(f"images/{number:07d}", data, overwrite=True, metadata={"sha256": digest})

    try:
        started = time.monotonic()
        with ThreadPoolExecutor(DOWNLOAD_CONCURRENCY) as pool:
            list(pool.map(copy, enumerate(uris)))
        return time.monotonic() - started, len(uris)
    finally:
        container.delete_container()
