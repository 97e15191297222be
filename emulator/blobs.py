"""Blob bytes behind the URIs the emulator returns: images (original, resized, thumbnail), stored
prediction images, project thumbnails and exported models. Fetched without the key, like SAS URLs."""

from __future__ import annotations

import io
import zipfile

from emulator.png import make_png
from emulator.render import THUMBNAIL_EDGE
from emulator.state import EmulatorState

PREDICTION_SIZE = (48, 36)
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def _thumbnail(width: int, height: int) -> tuple[int, int]:
    scale = THUMBNAIL_EDGE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _model_zip(project_id: str, iteration_id: str, platform: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("model.txt", _ZIP_TIME)
        archive.writestr(info, f"emulated {platform} model\nproject {project_id}\niteration {iteration_id}\n")
    return buffer.getvalue()


def blob_bytes(
    state: EmulatorState, kind: str, project_id: str, item_id: str, variant: str
) -> tuple[bytes, str] | None:
    """(body, content type) of a blob, or ``None`` if what it belonged to is gone. Caller holds the lock."""
    found = state.find_project(project_id)
    if found is None:
        return None
    _, project = found
    if kind == "images":
        image = project.images.get(item_id)
        if image is None:
            return None
        if image.content is not None and variant == "original.png":
            return image.content, "image/png"
        size = (
            (image.width, image.height)
            if variant != "thumbnail.png"
            else _thumbnail(image.width, image.height)
        )
        return make_png(*size, seed=f"{image.id}:{variant}"), "image/png"
    if kind == "predictions":
        if item_id not in project.predictions:
            return None
        size = PREDICTION_SIZE if variant != "thumbnail.png" else _thumbnail(*PREDICTION_SIZE)
        return make_png(*size, seed=f"{item_id}:{variant}"), "image/png"
    if kind == "projects" and item_id == project.id:
        return make_png(THUMBNAIL_EDGE, THUMBNAIL_EDGE, seed=project.id), "image/png"
    if kind == "exports":
        iteration = project.iterations.get(item_id)
        platform = variant.removesuffix(".zip")
        if iteration is None or not any(
            e.platform == platform and e.status == "Done" for e in iteration.exports
        ):
            return None
        return _model_zip(project.id, iteration.id, platform), "application/zip"
    return None
