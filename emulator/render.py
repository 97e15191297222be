"""JSON shapes of the Training API models (property names and order as in the v3.3/v3.4-preview spec)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emulator.state import (
    ExportRecord,
    ImageRecord,
    IterationRecord,
    PredictionRecord,
    ProjectRecord,
    TagRecord,
)

Json = dict[str, Any]
EXPORTABLE_TO = ["CoreML", "TensorFlow", "DockerFile", "ONNX"]
THUMBNAIL_EDGE = 16


def iso(value: datetime) -> str:
    """UTC timestamp with milliseconds and ``Z``, as the service writes them."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


class BlobLinks:
    """Builds absolute, signed blob URIs on this server (the emulator's stand-in for SAS URLs)."""

    def __init__(self, base_url: str, sign: Any) -> None:
        self._base_url = base_url
        self._sign = sign

    def uri(self, kind: str, project_id: str, item_id: str, variant: str) -> str:
        path = f"/_blob/{kind}/{project_id}/{item_id}/{variant}"
        return f"{self._base_url}{path}?sv=2020-08-04&sr=b&sig={self._sign(path)}"


def project(p: ProjectRecord, links: BlobLinks) -> Json:
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "settings": {
            "domainId": p.domain_id,
            "classificationType": p.classification_type,
            "targetExportPlatforms": [],
            "useNegativeSet": True,
        },
        "created": iso(p.created),
        "lastModified": iso(p.created),
        "thumbnailUri": links.uri("projects", p.id, p.id, "thumbnail.png"),
        "drModeEnabled": False,
        "status": "Succeeded",
    }


def iteration(project_id: str, it: IterationRecord) -> Json:
    body: Json = {
        "id": it.id,
        "name": it.name,
        "status": it.status,
        "created": iso(it.created),
        "lastModified": iso(it.trained_at),
        "trainedAt": iso(it.trained_at),
        "projectId": project_id,
        "exportable": True,
        "exportableTo": EXPORTABLE_TO,
        "domainId": it.domain_id,
        "classificationType": it.classification_type,
        "trainingType": "Regular",
        "reservedBudgetInHours": 0,
        "trainingTimeInMinutes": 4,
    }
    if it.publish_name:
        body["publishName"] = it.publish_name
        body["originalPublishResourceId"] = it.prediction_resource_id or ""
    return body


def tag(t: TagRecord, image_count: int) -> Json:
    return {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "type": t.type,
        "imageCount": image_count,
    }


def image_tags(p: ProjectRecord, img: ImageRecord) -> list[Json] | None:
    tags = [p.tags[tid] for tid in img.tag_ids if tid in p.tags]
    if not tags:
        return None
    return [{"tagId": t.id, "tagName": t.name, "created": iso(t.created or img.created)} for t in tags]


def image(p: ProjectRecord, img: ImageRecord, links: BlobLinks) -> Json:
    return {
        "id": img.id,
        "created": iso(img.created),
        "width": img.width,
        "height": img.height,
        "resizedImageUri": links.uri("images", p.id, img.id, "resized.png"),
        "thumbnailUri": links.uri("images", p.id, img.id, "thumbnail.png"),
        "originalImageUri": links.uri("images", p.id, img.id, "original.png"),
        "tags": image_tags(p, img),
        "regions": image_regions(p, img),
        "metadata": dict(img.metadata) or None,
    }


def image_regions(p: ProjectRecord, img: ImageRecord) -> list[Json] | None:
    if not img.regions:
        return None
    return [
        {
            "regionId": r.id,
            "tagName": p.tags[r.tag_id].name if r.tag_id in p.tags else None,
            "created": iso(r.created),
            "tagId": r.tag_id,
            "left": r.left,
            "top": r.top,
            "width": r.width,
            "height": r.height,
        }
        for r in img.regions
    ]


def prediction_scores(p: ProjectRecord, scores: list[tuple[str, float]]) -> list[Json]:
    return [
        {
            "probability": probability,
            "tagId": tag_id,
            "tagName": p.tags[tag_id].name if tag_id in p.tags else None,
            "tagType": "Regular",
        }
        for tag_id, probability in scores
    ]


def image_performance(
    p: ProjectRecord, img: ImageRecord, scores: list[tuple[str, float]], links: BlobLinks
) -> Json:
    return {
        "predictions": prediction_scores(p, scores),
        "id": img.id,
        "created": iso(img.created),
        "width": img.width,
        "height": img.height,
        "imageUri": links.uri("images", p.id, img.id, "resized.png"),
        "thumbnailUri": links.uri("images", p.id, img.id, "thumbnail.png"),
        "tags": image_tags(p, img),
        "regions": None,
    }


def export(p: ProjectRecord, it: IterationRecord, e: ExportRecord, links: BlobLinks) -> Json:
    body: Json = {"platform": e.platform, "status": e.status}
    if e.status == "Done":
        body["downloadUri"] = links.uri("exports", p.id, it.id, f"{e.platform}.zip")
    body["flavor"] = e.flavor
    body["newerVersionAvailable"] = e.newer_version_available
    return body


def stored_prediction(p: ProjectRecord, pr: PredictionRecord, links: BlobLinks) -> Json:
    return {
        "resizedImageUri": links.uri("predictions", p.id, pr.id, "resized.png"),
        "thumbnailUri": links.uri("predictions", p.id, pr.id, "thumbnail.png"),
        "originalImageUri": links.uri("predictions", p.id, pr.id, "original.png"),
        "domain": pr.domain_id,
        "id": pr.id,
        "project": p.id,
        "iteration": pr.iteration_id,
        "created": iso(pr.created),
        "predictions": prediction_scores(p, pr.scores),
    }


def error(code: str, message: str) -> Json:
    return {"code": code, "message": message}
