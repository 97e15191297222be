"""Benchmark: how fast Azurite takes blobs as its container fills up.

An export writes one blob per image, so an export of N images runs at Azurite's upload rate once the
calls are minimal. This measures that rate alone (no app, no emulator): batches of small blobs into one
fresh container, 16 uploads at a time as the export's download pool does, printing uploads/s per
batch. A falling rate means Azurite's cost per blob grows with what it stores, which Azure Storage's
does not. Needs Azurite (``devstack start azurite``, best with ``DSR_AZURITE_IN_MEMORY=1``) and
``eval "$(python -m devstack env)"``.

    .venv/bin/python -m benchmarks.azurite_uploads [BATCHES] [BATCH_SIZE]
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from azure.storage.blob import BlobServiceClient

from dsr.config import load_settings

CONCURRENCY = 16
BLOB_BYTES = 20_000
"""About the size of the emulator's seeded images."""


def main(batches: int = 6, batch_size: int = 2_000) -> list[float]:
    """Upload ``batches`` x ``batch_size`` blobs; returns (and prints) uploads/s per batch."""
    service = BlobServiceClient.from_connection_string(load_settings().storage_connection)
    container = service.create_container(f"azurite-uploads-{uuid.uuid4().hex[:8]}")
    data = os.urandom(BLOB_BYTES)
    rates = []
    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            for batch in range(batches):
                first = batch * batch_size
                started = time.monotonic()
                names = (f"r/export/images/p/{n:07d}.jpg" for n in range(first, first + batch_size))
                list(pool.map(lambda name: container.upload_blob(name, data), names))
                rates.append(batch_size / (time.monotonic() - started))
                print(f"blobs {first:>7,}-{first + batch_size:>7,}: {rates[-1]:6.0f} uploads/s", flush=True)
    finally:
        container.delete_container()
    return rates


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
