"""Per-project annotations in COCO JSON (GDPR Art. 20: a common, machine-readable format).

``images/<project>/coco.json`` sits next to the copied originals: ``categories`` are the project's tags,
``images`` the exported images (``file_name`` relative to the file), ``annotations`` one per region
(``bbox`` in pixels, as COCO wants) for object detection, or one per image tag without a box for
classification. Custom Vision ids are kept (``cv_*`` fields) so an import can be checked against the
source. Written in one streamed pass: annotations are spooled to a temporary file while the images
go out, so memory does not grow with the image count.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from dsr import layout
from dsr.storage import DOCUMENT_BLOCK_SIZE, JSON_CONTENT_TYPE, ExportStore, FileRef


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def bbox(region: dict[str, Any], width: int, height: int) -> list[float]:
    """A Custom Vision region (left/top/width/height as fractions of the image) as a COCO pixel box."""
    return [
        round(float(region["left"]) * width, 3),
        round(float(region["top"]) * height, 3),
        round(float(region["width"]) * width, 3),
        round(float(region["height"]) * height, 3),
    ]


def coco_chunks(
    project: dict[str, Any], tags: dict[str, str], records: Iterable[dict[str, Any]], folder: str
) -> Iterator[bytes]:
    """The COCO document for ``records`` (exported image records of one project) as byte chunks.

    ``tags`` maps tag id to name, in the order the categories get their ids (1, 2, ...).
    """
    category_ids = {tag_id: number for number, tag_id in enumerate(tags, start=1)}
    info = {
        "description": f"Custom Vision project {project.get('name') or project['id']}",
        "cv_project_id": project["id"],
        "cv_project_name": project.get("name"),
        "version": "1.0",
    }
    categories = [
        {"id": category_ids[tag_id], "name": name, "supercategory": "", "cv_tag_id": tag_id}
        for tag_id, name in tags.items()
    ]
    yield b'{"info":' + _dump(info) + b',"licenses":[],"categories":' + _dump(categories) + b',"images":['
    annotation_id = 0
    with tempfile.TemporaryFile() as annotations:
        image_id = 0
        for record in records:
            if not record.get("exportedFile"):
                continue  # nothing to point file_name at; the record stays in the NDJSON
            image_id += 1
            width, height = int(record.get("width") or 0), int(record.get("height") or 0)
            image = {
                "id": image_id,
                "file_name": posixpath.relpath(record["exportedFile"], folder),
                "width": width,
                "height": height,
                "date_captured": record.get("created"),
                "cv_image_id": record["id"],
                "cv_metadata": record.get("metadata") or {},
            }
            yield (b"," if image_id > 1 else b"") + _dump(image)
            regions = record.get("regions") or []
            labels: list[dict[str, Any]] = []
            if regions:
                for region in regions:
                    box = bbox(region, width, height)
                    labels.append(
                        {
                            "category_id": category_ids.get(region["tagId"]),
                            "bbox": box,
                            "area": round(box[2] * box[3], 3),
                            "cv_region_id": region.get("regionId"),
                        }
                    )
            else:
                labels = [{"category_id": category_ids.get(t["tagId"])} for t in record.get("tags") or []]
            for label in labels:
                if label["category_id"] is None:
                    continue  # a tag deleted after the image was listed
                annotation_id += 1
                entry = {"id": annotation_id, "image_id": image_id, "iscrowd": 0, **label}
                annotations.write((b"," if annotation_id > 1 else b"") + _dump(entry))
        yield b'],"annotations":['
        annotations.seek(0)
        while chunk := annotations.read(256 * 1024):
            yield chunk
    yield b"]}\n"


def write_coco(
    store: ExportStore,
    project: dict[str, Any],
    tags: dict[str, str],
    records: Iterable[dict[str, Any]],
    folder: str,
) -> FileRef:
    """Stream ``<folder>/coco.json`` for one project's exported image records."""
    return store.put_stream(
        layout.coco_file(folder),
        coco_chunks(project, tags, records, folder),
        JSON_CONTENT_TYPE,
        block_size=DOCUMENT_BLOCK_SIZE,
    )
