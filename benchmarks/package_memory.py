"""Benchmark: the status-writing step of an export (paged views, COCO, index, streamed manifest) at N and
N/10 images; prints time and peak traced memory. Memory must stay flat: the step reads one NDJSON part
at a time and spools the manifest and COCO annotations to temporary files.

The unit results are synthesised (records shaped like the export's, in parts of 2,048, written to
Azurite) so the figure is the package step's alone. Needs Azurite: ``eval "$(python -m devstack env)"``.

    .venv/bin/python -m benchmarks.package_memory [N]      # default 20,000; 100,000 takes a few minutes
"""

from __future__ import annotations

import hashlib
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dsr.config import load_settings
from dsr.package.export_package import write_export_package
from dsr.storage import BlobExportStore, put_json, put_ndjson
from tests.functional.documents import finished_export

PART = 2_048


def _records(project_id: str, root: str, start: int, count: int) -> Iterator[dict[str, Any]]:
    for n in range(start, start + count):
        image_id = str(uuid.UUID(int=n, version=4))
        path = f"{root}/images/{project_id}/{image_id}.png"
        yield {
            "id": image_id,
            "created": "2024-01-01T00:00:00.000Z",
            "width": 40,
            "height": 30,
            "originalImageUri": f"https://example.blob.core.windows.net/i/{image_id}/original.png",
            "tags": [{"tagId": "t1", "tagName": "tag-1", "created": "2024-01-01T00:00:00.000Z"}],
            "regions": None,
            "metadata": {"subjectId": f"subject-{n % 50:03d}"},
            "exportedFile": path,
            "exportedFileBytes": 1000,
            "exportedFileSha256": hashlib.sha256(path.encode()).hexdigest(),
            "onlyInIteration": None,
        }


def synthesise(store: BlobExportStore, count: int) -> dict[str, Any]:
    """A finished export's status document whose image unit wrote ``count`` records."""
    request_id = f"bench-{uuid.uuid4().hex[:8]}"
    root = f"{request_id}/export"
    project_id = str(uuid.UUID(int=1, version=4))
    files = []
    for start in range(0, count, PART):
        part = f"{root}/images/{project_id}/images-{start:07d}.ndjson"
        files.append(put_ndjson(store, part, _records(project_id, root, start, min(PART, count - start))))
    tags = put_json(
        store, f"{root}/tags.json", {project_id: [{"id": "t1", "name": "tag-1", "type": "Regular"}]}
    )
    return finished_export(request_id, {"id": project_id, "name": "bench"}, tags, files, count)


def measure(store: BlobExportStore, count: int) -> tuple[float, float]:
    """(seconds, peak traced MiB) of the package step for ``count`` images (separate runs)."""
    document = synthesise(store, count)
    started = time.monotonic()
    write_export_package(store, store, document, datetime.now(UTC))
    seconds = time.monotonic() - started
    tracemalloc.start()
    write_export_package(store, store, document, datetime.now(UTC))
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main(count: int) -> None:
    settings = load_settings()
    store = BlobExportStore.from_connection(settings.storage_connection, f"bench-{uuid.uuid4().hex[:8]}")
    small = max(1, count // 10)
    figures = {images: measure(store, images) for images in (small, count)}
    for images, (seconds, peak) in figures.items():
        print(f"images={images} package_seconds={seconds:.2f} peak_traced_mib={peak:.1f}")
    ratio = figures[count][1] / figures[small][1]
    print(f"peak memory ratio {count}/{small} images = {ratio:.2f} (flat: close to 1)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
