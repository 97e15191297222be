"""The Training API operations the emulator implements, with the service's limits and error codes.

Each handler receives an :class:`ApiRequest` (already authenticated, state lock held) and returns an
:class:`ApiResponse` or raises :class:`ApiError`. Codes follow the spec's ``CustomVisionErrorCodes`` enum;
where the spec is silent (which code a too-large ``take`` gets), the choice is marked as an assumption.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator import render
from emulator.odata import FilterSyntaxError, parse_filter
from emulator.render import BlobLinks
from emulator.state import (
    Account,
    EmulatorState,
    ImageRecord,
    IterationRecord,
    PredictionRecord,
    ProjectRecord,
    RegionRecord,
    TagRecord,
)

MAX_TAKE = 256
DEFAULT_TAKE = 50
MAX_IMAGE_IDS = 256
MAX_TAG_IDS = 20
MAX_PREDICTION_IDS = 64
MAX_PREDICTION_QUERY_TAGS = 2
DEFAULT_PREDICTION_COUNT = 50
MAX_PREDICTION_COUNT = 256  # assumption: the spec sets no maximum for maxCount; larger values are clamped
TAGGING_STATUSES = {"all": "All", "tagged": "Tagged", "untagged": "Untagged"}

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiRequest:
    state: EmulatorState
    account: Account
    path_ids: dict[str, str]
    query: dict[str, str]
    """Query parameters with lower-cased names (ASP.NET binds them case-insensitively)."""
    body: Any
    links: BlobLinks


# -- parameter helpers ---------------------------------------------------------------------------


def _int(req: ApiRequest, name: str, default: int) -> int:
    raw = req.query.get(name.lower())
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"{name} must be an integer") from exc


def _take_skip(req: ApiRequest) -> tuple[int, int]:
    take = _int(req, "take", DEFAULT_TAKE)
    skip = _int(req, "skip", 0)
    if not 0 <= take <= MAX_TAKE:
        # Assumption: model validation of [Range(0, 256)] surfaces as the generic BadRequest code.
        raise ApiError(400, "BadRequest", f"take must be between 0 and {MAX_TAKE}")
    if skip < 0:
        raise ApiError(400, "BadRequest", "skip must not be negative")
    return take, skip


def _bool(req: ApiRequest, name: str) -> bool:
    raw = req.query.get(name.lower(), "").lower()
    if raw in {"", "false"}:
        return False
    if raw == "true":
        return True
    raise ApiError(400, "BadRequest", f"{name} must be true or false")


def _ids(req: ApiRequest, name: str, limit: int | None, too_many_code: str) -> list[str]:
    raw = req.query.get(name.lower(), "")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not all(_UUID.match(i) for i in ids):
        raise ApiError(400, "BadRequestInvalidIds", f"{name} must be GUIDs")
    if limit is not None and len(ids) > limit:
        raise ApiError(400, too_many_code, f"{name} is limited to {limit}")
    return [i.lower() for i in ids]


def _tag_ids(req: ApiRequest, *, limited: bool = True) -> list[str]:
    return _ids(req, "tagIds", MAX_TAG_IDS if limited else None, "BadRequestExceededBatchSize")


def _project(req: ApiRequest) -> ProjectRecord:
    project = req.account.projects.get(req.path_ids["projectId"].lower())
    if project is None:
        raise ApiError(404, "NotFoundProject", "Project not found")
    return project


def _iteration(req: ApiRequest, project: ProjectRecord, iteration_id: str | None = None) -> IterationRecord:
    wanted = (iteration_id or req.path_ids["iterationId"]).lower()
    iteration = project.iterations.get(wanted)
    if iteration is None:
        raise ApiError(404, "NotFoundIteration", "Iteration not found")
    return iteration


def _optional_iteration(req: ApiRequest, project: ProjectRecord) -> IterationRecord | None:
    raw = req.query.get("iterationid")
    if not raw:
        return None
    if not _UUID.match(raw):
        raise ApiError(400, "BadRequestInvalidIds", "iterationId must be a GUID")
    return _iteration(req, project, raw)


def _tag(req: ApiRequest, project: ProjectRecord) -> TagRecord:
    tag = project.tags.get(req.path_ids["tagId"].lower())
    if tag is None:
        raise ApiError(404, "NotFoundTag", "Tag not found")
    return tag


# -- image listings ------------------------------------------------------------------------------


def _listing(
    project: ProjectRecord,
    iteration: IterationRecord | None,
    tagging_status: str,
    filter_text: str | None,
    tag_ids: list[str],
    order: str,
) -> list[ImageRecord]:
    key = (iteration.id if iteration else None, tagging_status, filter_text, tuple(tag_ids), order)

    def build() -> list[ImageRecord]:
        if iteration is None:
            images = [img for img in project.images.values() if img.in_workspace]
        else:
            images = [project.images[i] for i in iteration.image_ids if i in project.images]
        if tagging_status == "Tagged":
            images = [img for img in images if img.tag_ids]
        elif tagging_status == "Untagged":
            images = [img for img in images if not img.tag_ids]
        if tag_ids:
            wanted = set(tag_ids)
            images = [img for img in images if wanted.intersection(img.tag_ids)]
        if filter_text:
            try:
                predicate = parse_filter(filter_text)
            except FilterSyntaxError as exc:
                raise ApiError(400, "BadRequest", f"invalid $filter: {exc}") from exc
            images = [img for img in images if predicate(img.metadata)]
        images.sort(key=lambda img: (img.created, img.id), reverse=order != "Oldest")
        return images

    return project.image_view(key, build)


def _order(req: ApiRequest) -> str:
    raw = req.query.get("orderby", "Newest")
    if raw.lower() not in {"newest", "oldest"}:
        raise ApiError(400, "BadRequest", "orderBy must be Newest or Oldest")
    return raw.capitalize()


def _tagging_status(req: ApiRequest, default: str = "All") -> str:
    raw = req.query.get("taggingstatus", default)
    status = TAGGING_STATUSES.get(raw.lower())
    if status is None:
        raise ApiError(400, "BadRequest", "taggingStatus must be All, Tagged or Untagged")
    return status


def _page(req: ApiRequest, images: list[ImageRecord], project: ProjectRecord) -> ApiResponse:
    take, skip = _take_skip(req)
    return ApiResponse(200, [render.image(project, img, req.links) for img in images[skip : skip + take]])


def get_images(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _optional_iteration(req, project)
    images = _listing(
        project, iteration, _tagging_status(req), req.query.get("$filter"), _tag_ids(req), _order(req)
    )
    return _page(req, images, project)


def get_tagged_images(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    images = _listing(project, _optional_iteration(req, project), "Tagged", None, _tag_ids(req), _order(req))
    return _page(req, images, project)


def get_untagged_images(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    images = _listing(project, _optional_iteration(req, project), "Untagged", None, [], _order(req))
    return _page(req, images, project)


def get_image_count(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _optional_iteration(req, project)
    images = _listing(
        project,
        iteration,
        _tagging_status(req),
        req.query.get("$filter"),
        _tag_ids(req, limited=False),
        "Newest",
    )
    return ApiResponse(200, len(images))


def get_tagged_image_count(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _optional_iteration(req, project)
    return ApiResponse(
        200, len(_listing(project, iteration, "Tagged", None, _tag_ids(req, limited=False), "Newest"))
    )


def get_untagged_image_count(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _optional_iteration(req, project)
    return ApiResponse(200, len(_listing(project, iteration, "Untagged", None, [], "Newest")))


def get_images_by_ids(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _optional_iteration(req, project)
    ids = _ids(req, "imageIds", MAX_IMAGE_IDS, "BadRequestExceededBatchSize")
    found = []
    for image_id in ids:
        img = project.images.get(image_id)
        visible = img is not None and (
            img.in_workspace if iteration is None else image_id in iteration.image_ids
        )
        if img is not None and visible:
            found.append(render.image(project, img, req.links))
    return ApiResponse(200, found)


def delete_images(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    ids = _ids(req, "imageIds", MAX_IMAGE_IDS, "BadRequestExceededBatchSize")
    all_images = _bool(req, "allImages")
    all_iterations = _bool(req, "allIterations")
    if not ids and not all_images:
        raise ApiError(400, "BadRequestRequiredParamIsNull", "imageIds or allImages is required")
    targets = (
        list(project.images.values())
        if all_images
        else [project.images[i] for i in ids if i in project.images]
    )
    if all_images or all_iterations:
        due = time.monotonic() + req.account.controls.knobs.delete_delay_seconds
        for img in targets:
            project.schedule_deletion(img, due)
        project.complete_deletions(time.monotonic())
        project.changed()
        return ApiResponse(202)
    for img in targets:
        img.in_workspace = False
        if not any(img.id in it.image_ids for it in project.iterations.values()):
            del project.images[img.id]
    project.changed()
    return ApiResponse(204)


# -- projects, iterations, performance, exports ---------------------------------------------------


def get_projects(req: ApiRequest) -> ApiResponse:
    projects = sorted(req.account.projects.values(), key=lambda p: (p.created, p.id))
    return ApiResponse(200, [render.project(p, req.links) for p in projects])


def get_project(req: ApiRequest) -> ApiResponse:
    return ApiResponse(200, render.project(_project(req), req.links))


def export_project(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    token = base64.urlsafe_b64encode(hashlib.sha256(f"import:{project.id}".encode()).digest()).decode()
    return ApiResponse(
        200,
        {
            "iterationCount": len(project.iterations),
            "imageCount": sum(1 for img in project.images.values() if img.in_workspace),
            "tagCount": len(project.tags),
            "regionCount": 0,
            "estimatedImportTimeInMS": 1000 + 10 * len(project.images),
            "token": req.state.sign(token),
        },
    )


def delete_project(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    if project.published_iterations():
        # Assumption (the spec is silent): a project with a published iteration cannot be deleted.
        raise ApiError(400, "BadRequestIterationIsPublished", "Unpublish the project's iterations first")
    del req.account.projects[project.id]
    return ApiResponse(204)


def get_iterations(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iterations = sorted(project.iterations.values(), key=lambda it: (it.created, it.id))
    return ApiResponse(200, [render.iteration(project.id, it) for it in iterations])


def get_iteration(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    return ApiResponse(200, render.iteration(project.id, _iteration(req, project)))


def delete_iteration(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _iteration(req, project)
    if iteration.publish_name:
        raise ApiError(400, "BadRequestIterationIsPublished", "Cannot delete a published iteration")
    del project.iterations[iteration.id]
    orphans = [img.id for img in project.images.values() if not img.in_workspace]
    for image_id in orphans:
        if not any(image_id in it.image_ids for it in project.iterations.values()):
            del project.images[image_id]
    project.changed()
    return ApiResponse(204)


def unpublish_iteration(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _iteration(req, project)
    if not iteration.publish_name:
        raise ApiError(400, "BadRequestIterationNotPublished", "Iteration is not published")
    iteration.publish_name = None
    iteration.prediction_resource_id = None
    return ApiResponse(204)


def _threshold(req: ApiRequest) -> float:
    raw = req.query.get("threshold")
    try:
        value = float(raw) if raw else 0.5
    except ValueError as exc:
        raise ApiError(400, "BadRequest", "threshold must be a number") from exc
    if not 0.0 <= value <= 1.0:
        raise ApiError(400, "BadRequest", "threshold must be between 0 and 1")
    return value


def _clamp(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 4)


def get_iteration_performance(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _iteration(req, project)
    shift = _threshold(req) - 0.5
    rows = [
        (
            score,
            project.tags[score.tag_id].name if score.tag_id in project.tags else score.tag_id,
            _clamp(score.precision + shift * 0.2),
            _clamp(score.recall - shift * 0.3),
        )
        for score in iteration.scores
    ]
    count = max(1, len(rows))
    per_tag = [
        {
            "id": score.tag_id,
            "name": name,
            "precision": precision,
            "precisionStdDeviation": 0.02,
            "recall": recall,
            "recallStdDeviation": 0.03,
            "averagePrecision": score.average_precision,
        }
        for score, name, precision, recall in rows
    ]
    return ApiResponse(
        200,
        {
            "perTagPerformance": per_tag,
            "precision": _clamp(sum(row[2] for row in rows) / count),
            "precisionStdDeviation": 0.02,
            "recall": _clamp(sum(row[3] for row in rows) / count),
            "recallStdDeviation": 0.03,
            "averagePrecision": _clamp(sum(row[0].average_precision for row in rows) / count),
        },
    )


def _performance_images(
    req: ApiRequest, project: ProjectRecord, iteration: IterationRecord, tag_ids: list[str]
) -> list[ImageRecord]:
    return _listing(project, iteration, "Tagged", None, tag_ids, _order(req))


def image_scores(iteration: IterationRecord, img: ImageRecord) -> list[tuple[str, float]]:
    """Deterministic per-tag probabilities of ``img`` under ``iteration``."""
    scores = []
    for tag_id in sorted(iteration.tag_ids):
        digest = hashlib.sha256(f"{iteration.id}:{img.id}:{tag_id}".encode()).digest()
        probability = digest[0] / 255
        if tag_id in img.tag_ids:
            probability = 0.5 + probability / 2
        scores.append((tag_id, round(probability, 4)))
    return sorted(scores, key=lambda pair: -pair[1])


def get_image_performances(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _iteration(req, project)
    take, skip = _take_skip(req)
    images = _performance_images(req, project, iteration, _tag_ids(req))[skip : skip + take]
    return ApiResponse(
        200,
        [render.image_performance(project, img, image_scores(iteration, img), req.links) for img in images],
    )


def get_image_performance_count(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _iteration(req, project)
    return ApiResponse(200, len(_performance_images(req, project, iteration, _tag_ids(req, limited=False))))


def get_exports(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _iteration(req, project)
    return ApiResponse(200, [render.export(project, iteration, e, req.links) for e in iteration.exports])


# -- tags ----------------------------------------------------------------------------------------


def _tag_image_count(project: ProjectRecord, tag_id: str, iteration: IterationRecord | None) -> int:
    images = _listing(project, iteration, "Tagged", None, [tag_id], "Newest")
    return len(images)


def _tags_in(project: ProjectRecord, iteration: IterationRecord | None) -> list[TagRecord]:
    tags = (
        project.tags.values()
        if iteration is None
        else [project.tags[t] for t in iteration.tag_ids if t in project.tags]
    )
    return sorted(tags, key=lambda t: (t.name, t.id))


def get_tags(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _optional_iteration(req, project)
    return ApiResponse(
        200, [render.tag(t, _tag_image_count(project, t.id, iteration)) for t in _tags_in(project, iteration)]
    )


def get_tag(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    iteration = _optional_iteration(req, project)
    tag = _tag(req, project)
    if iteration is not None and tag.id not in iteration.tag_ids:
        raise ApiError(404, "NotFoundTag", "Tag not found in this iteration")
    return ApiResponse(200, render.tag(tag, _tag_image_count(project, tag.id, iteration)))


def delete_tag(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    tag = _tag(req, project)
    del project.tags[tag.id]
    for img in project.images.values():
        if tag.id in img.tag_ids:
            img.tag_ids.remove(tag.id)
    project.changed()
    return ApiResponse(204)


# -- stored predictions --------------------------------------------------------------------------


def _query_time(query: dict[str, Any], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(
            400, "BadRequestPredictionInvalidQueryParameters", f"{name} is not a date-time"
        ) from exc


def _encode_cursor(created: datetime, prediction_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created.isoformat(), prediction_id]).encode()).decode()


def _decode_cursor(token: str) -> tuple[datetime, str]:
    try:
        created, prediction_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(created), str(prediction_id)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "BadRequestPredictionInvalidQueryParameters", "invalid continuation") from exc


def query_predictions(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    query = req.body
    if not isinstance(query, dict):
        raise ApiError(400, "BadRequestRequiredParamIsNull", "a PredictionQueryToken body is required")
    tags = query.get("tags") or []
    if not isinstance(tags, list) or len(tags) > MAX_PREDICTION_QUERY_TAGS:
        raise ApiError(400, "BadRequestPredictionTagsExceededCount", "Limited to combining 2 tags")
    start, end = _query_time(query, "startTime"), _query_time(query, "endTime")
    application = query.get("application")
    iteration_id = query.get("iterationId")
    order = query.get("orderBy") or "Newest"
    max_count = query.get("maxCount") or DEFAULT_PREDICTION_COUNT
    if not isinstance(max_count, int) or max_count < 0:
        raise ApiError(
            400, "BadRequestPredictionInvalidQueryParameters", "maxCount must be a positive integer"
        )
    max_count = min(max_count, MAX_PREDICTION_COUNT)

    def wanted(pr: PredictionRecord) -> bool:
        if application and pr.application != application:
            return False
        if iteration_id and pr.iteration_id != str(iteration_id).lower():
            return False
        if start is not None and pr.created < start:
            return False
        if end is not None and pr.created > end:
            return False
        scores = dict(pr.scores)
        for t in tags:
            probability = scores.get(str(t.get("id", "")).lower())
            low, high = float(t.get("minThreshold", 0.0)), float(t.get("maxThreshold", 1.0))
            if probability is None or not low <= probability <= high:
                return False
        return True

    newest_first = order != "Oldest"
    matches = sorted(
        (pr for pr in project.predictions.values() if wanted(pr)),
        key=lambda pr: (pr.created, pr.id),
        reverse=newest_first,
    )
    continuation = query.get("continuation")
    if continuation:
        cursor = _decode_cursor(str(continuation))
        matches = [
            pr
            for pr in matches
            if ((pr.created, pr.id) < cursor) == newest_first and (pr.created, pr.id) != cursor
        ]
    page, rest = matches[:max_count], matches[max_count:]
    token = {k: v for k, v in query.items() if k not in {"continuation", "session"} and v is not None}
    token["session"] = (
        query.get("session") or hashlib.sha256(f"session:{project.id}".encode()).hexdigest()[:16]
    )
    token["maxCount"] = max_count
    if rest:
        token["continuation"] = _encode_cursor(page[-1].created, page[-1].id)
    return ApiResponse(
        200, {"token": token, "results": [render.stored_prediction(project, pr, req.links) for pr in page]}
    )


def delete_prediction(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    ids = _ids(req, "ids", MAX_PREDICTION_IDS, "BadRequestPredictionIdsExceededCount")
    if not ids:
        raise ApiError(400, "BadRequestPredictionIdsMissing", "ids is required")
    for prediction_id in ids:
        project.predictions.pop(prediction_id, None)
    return ApiResponse(204)


# -- creating (what an import into an empty account needs) ---------------------------------------

MAX_IMAGES_PER_BATCH = 64
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _new_id() -> str:
    return str(uuid.uuid4())


def create_project(req: ApiRequest) -> ApiResponse:
    name = req.query.get("name")
    if not name:
        raise ApiError(400, "BadRequestProjectName", "name is required")
    project = ProjectRecord(
        _new_id(),
        name,
        req.query.get("description"),
        req.query.get("domainid") or "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31",
        datetime.now(UTC),
        classification_type=req.query.get("classificationtype") or "Multiclass",
    )
    req.account.add_project(project)
    return ApiResponse(200, render.project(project, req.links))


def create_tag(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    name = req.query.get("name")
    if not name:
        raise ApiError(400, "BadRequestTagName", "name is required")
    if any(t.name == name for t in project.tags.values()):
        raise ApiError(400, "BadRequestTagNameNotUnique", "tag name already exists")
    tag = TagRecord(
        _new_id(), name, req.query.get("description"), req.query.get("type") or "Regular", datetime.now(UTC)
    )
    project.tags[tag.id] = tag
    project.changed()
    return ApiResponse(200, render.tag(tag, 0))


def _png_size(content: bytes) -> tuple[int, int]:
    if not content.startswith(PNG_SIGNATURE) or len(content) < 24:
        raise ApiError(400, "BadRequestImageFormat", "only PNG images are emulated")
    return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")


def create_images_from_files(req: ApiRequest) -> ApiResponse:
    project = _project(req)
    batch = req.body if isinstance(req.body, dict) else {}
    entries = batch.get("images") or []
    if not entries or len(entries) > MAX_IMAGES_PER_BATCH:
        raise ApiError(400, "BadRequestImageBatch", f"give 1 to {MAX_IMAGES_PER_BATCH} images")
    shared_tags = list(batch.get("tagIds") or [])
    results = []
    now = datetime.now(UTC)
    for entry in entries:
        content = base64.b64decode(entry.get("contents") or "")
        width, height = _png_size(content)
        tag_ids = shared_tags + list(entry.get("tagIds") or [])
        regions = [
            RegionRecord(_new_id(), r["tagId"], r["left"], r["top"], r["width"], r["height"], now)
            for r in entry.get("regions") or []
        ]
        unknown = [t for t in tag_ids + [r.tag_id for r in regions] if t not in project.tags]
        if unknown:
            raise ApiError(400, "BadRequestTagIdInvalid", "unknown tag id")
        image = ImageRecord(_new_id(), now, width, height, tag_ids, regions=regions, content=content)
        project.images[image.id] = image
        results.append(
            {"sourceUrl": entry.get("name"), "status": "OK", "image": render.image(project, image, req.links)}
        )
    project.changed()
    return ApiResponse(200, {"isBatchSuccessful": True, "images": results})


# -- routing -------------------------------------------------------------------------------------

Handler = Callable[[ApiRequest], ApiResponse]
_P = "/projects/(?P<projectId>[^/]+)"
_I = _P + "/iterations/(?P<iterationId>[^/]+)"

ROUTES: list[tuple[str, str, str, Handler]] = [
    ("GET", "/projects", "GetProjects", get_projects),
    ("POST", "/projects", "CreateProject", create_project),
    ("POST", _P + "/tags", "CreateTag", create_tag),
    ("POST", _P + "/images/files", "CreateImagesFromFiles", create_images_from_files),
    ("GET", _P, "GetProject", get_project),
    ("DELETE", _P, "DeleteProject", delete_project),
    ("GET", _P + "/export", "ExportProject", export_project),
    ("GET", _P + "/iterations", "GetIterations", get_iterations),
    ("GET", _I, "GetIteration", get_iteration),
    ("DELETE", _I, "DeleteIteration", delete_iteration),
    ("DELETE", _I + "/publish", "UnpublishIteration", unpublish_iteration),
    ("GET", _I + "/performance", "GetIterationPerformance", get_iteration_performance),
    ("GET", _I + "/performance/images", "GetImagePerformances", get_image_performances),
    ("GET", _I + "/performance/images/count", "GetImagePerformanceCount", get_image_performance_count),
    ("GET", _I + "/export", "GetExports", get_exports),
    ("GET", _P + "/tags", "GetTags", get_tags),
    ("GET", _P + "/tags/(?P<tagId>[^/]+)", "GetTag", get_tag),
    ("DELETE", _P + "/tags/(?P<tagId>[^/]+)", "DeleteTag", delete_tag),
    ("GET", _P + "/images", "GetImages", get_images),
    ("DELETE", _P + "/images", "DeleteImages", delete_images),
    ("GET", _P + "/images/count", "GetImageCount", get_image_count),
    ("GET", _P + "/images/tagged", "GetTaggedImages", get_tagged_images),
    ("GET", _P + "/images/tagged/count", "GetTaggedImageCount", get_tagged_image_count),
    ("GET", _P + "/images/untagged", "GetUntaggedImages", get_untagged_images),
    ("GET", _P + "/images/untagged/count", "GetUntaggedImageCount", get_untagged_image_count),
    ("GET", _P + "/images/id", "GetImagesByIds", get_images_by_ids),
    ("POST", _P + "/predictions/query", "QueryPredictions", query_predictions),
    ("DELETE", _P + "/predictions", "DeletePrediction", delete_prediction),
]
_COMPILED = [(method, re.compile(f"^{pattern}$"), op, handler) for method, pattern, op, handler in ROUTES]
_NOT_FOUND_CODES = {
    "projectId": "NotFoundProject",
    "iterationId": "NotFoundIteration",
    "tagId": "NotFoundTag",
}


def resolve(method: str, path: str) -> tuple[str, Handler, dict[str, str]]:
    """Find the operation for ``path`` (relative to the API base); raises 404/405 ``ApiError``."""
    path_matched = False
    for route_method, pattern, operation, handler in _COMPILED:
        match = pattern.match(path)
        if match is None:
            continue
        path_matched = True
        if route_method == method:
            ids = match.groupdict()
            for name, value in ids.items():
                if not _UUID.match(value):
                    # A non-GUID id never matches a resource; the service answers as for an unknown one.
                    raise ApiError(404, _NOT_FOUND_CODES[name], f"{name} not found")
            return operation, handler, ids
    if path_matched:
        raise ApiError(405, "BadRequestNotSupported", "Method not allowed")
    raise ApiError(404, "NotFound", "Resource not found")
