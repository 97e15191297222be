"""Typed views of Training API (v3.3) responses.

Each model is a frozen dataclass with the fields the DSR activities use, plus ``raw``: the JSON object
exactly as the service returned it, which is what an export writes. Parsing validates the shape at the
edge; a missing id or a wrong type raises ``UnexpectedResponseError`` instead of surfacing later as a
``KeyError`` deep inside an activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dsr.customvision.errors import UnexpectedResponseError

JsonObject = dict[str, Any]


class JsonFields:
    """Reads typed fields from one JSON object and names the operation when a field is wrong."""

    def __init__(self, obj: object, operation: str, what: str) -> None:
        if not isinstance(obj, dict):
            raise UnexpectedResponseError(operation, None, f"{what} is not a JSON object")
        self.obj: JsonObject = obj
        self._operation = operation
        self._what = what

    def _fail(self, key: str, expected: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(self._operation, None, f"{self._what}.{key} is not {expected}")

    def text(self, key: str) -> str:
        value = self.obj.get(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def opt_integer(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer")
        return value

    def integer(self, key: str) -> int:
        value = self.opt_integer(key)
        if value is None:
            raise self._fail(key, "an integer")
        return value

    def opt_number(self, key: str) -> float | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, "a number")
        return float(value)

    def opt_flag(self, key: str) -> bool | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._fail(key, "a boolean")
        return value

    def opt_time(self, key: str) -> datetime | None:
        value = self.opt_text(key)
        if value is None:
            return None
        try:
            return parse_datetime(value)
        except ValueError as exc:
            raise self._fail(key, "an ISO 8601 date-time") from exc

    def array(self, key: str) -> list[Any]:
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "an array")
        return value

    def text_map(self, key: str) -> dict[str, str]:
        value = self.obj.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._fail(key, "a map of strings")
        return dict(value)


def parse_datetime(value: str) -> datetime:
    """Parse the service's ISO 8601 timestamps (.NET writes up to 7 fractional digits and ``Z``)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    description: str | None
    domain_id: str | None
    classification_type: str | None
    created: datetime | None
    last_modified: datetime | None
    thumbnail_uri: str | None
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: object, operation: str) -> Project:
        f = JsonFields(obj, operation, "Project")
        settings = JsonFields(f.obj.get("settings") or {}, operation, "Project.settings")
        return cls(
            id=f.text("id"),
            name=f.text("name"),
            description=f.opt_text("description"),
            domain_id=settings.opt_text("domainId"),
            classification_type=settings.opt_text("classificationType"),
            created=f.opt_time("created"),
            last_modified=f.opt_time("lastModified"),
            thumbnail_uri=f.opt_text("thumbnailUri"),
            raw=f.obj,
        )


@dataclass(frozen=True)
class ProjectExportCounts:
    """Counts from ExportProject. The import ``token`` it also returns is a secret and is dropped here."""

    iteration_count: int
    image_count: int
    tag_count: int
    region_count: int
    estimated_import_time_ms: int | None
    raw: JsonObject = field(repr=False, compare=False)
    """The response without ``token``."""

    @classmethod
    def from_json(cls, obj: object, operation: str) -> ProjectExportCounts:
        f = JsonFields(obj, operation, "ProjectExport")
        return cls(
            iteration_count=f.integer("iterationCount"),
            image_count=f.integer("imageCount"),
            tag_count=f.integer("tagCount"),
            region_count=f.opt_integer("regionCount") or 0,
            estimated_import_time_ms=f.opt_integer("estimatedImportTimeInMS"),
            raw={key: value for key, value in f.obj.items() if key != "token"},
        )


@dataclass(frozen=True)
class Iteration:
    id: str
    name: str
    status: str | None
    project_id: str | None
    created: datetime | None
    last_modified: datetime | None
    trained_at: datetime | None
    publish_name: str | None
    """Set while the iteration is published; delete only after ``unpublish_iteration``."""
    original_publish_resource_id: str | None
    exportable: bool
    domain_id: str | None
    classification_type: str | None
    raw: JsonObject = field(repr=False, compare=False)

    @property
    def is_published(self) -> bool:
        return self.publish_name is not None

    @classmethod
    def from_json(cls, obj: object, operation: str) -> Iteration:
        f = JsonFields(obj, operation, "Iteration")
        return cls(
            id=f.text("id"),
            name=f.text("name"),
            status=f.opt_text("status"),
            project_id=f.opt_text("projectId"),
            created=f.opt_time("created"),
            last_modified=f.opt_time("lastModified"),
            trained_at=f.opt_time("trainedAt"),
            publish_name=f.opt_text("publishName"),
            original_publish_resource_id=f.opt_text("originalPublishResourceId"),
            exportable=bool(f.opt_flag("exportable")),
            domain_id=f.opt_text("domainId"),
            classification_type=f.opt_text("classificationType"),
            raw=f.obj,
        )


@dataclass(frozen=True)
class TagPerformance:
    id: str
    name: str
    precision: float | None
    recall: float | None
    average_precision: float | None

    @classmethod
    def from_json(cls, obj: object, operation: str) -> TagPerformance:
        f = JsonFields(obj, operation, "TagPerformance")
        return cls(
            id=f.text("id"),
            name=f.text("name"),
            precision=f.opt_number("precision"),
            recall=f.opt_number("recall"),
            average_precision=f.opt_number("averagePrecision"),
        )


@dataclass(frozen=True)
class IterationPerformance:
    precision: float | None
    recall: float | None
    average_precision: float | None
    per_tag: tuple[TagPerformance, ...]
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: object, operation: str) -> IterationPerformance:
        f = JsonFields(obj, operation, "IterationPerformance")
        return cls(
            precision=f.opt_number("precision"),
            recall=f.opt_number("recall"),
            average_precision=f.opt_number("averagePrecision"),
            per_tag=tuple(TagPerformance.from_json(t, operation) for t in f.array("perTagPerformance")),
            raw=f.obj,
        )


@dataclass(frozen=True)
class ImageTag:
    tag_id: str
    tag_name: str | None
    created: datetime | None

    @classmethod
    def from_json(cls, obj: object, operation: str) -> ImageTag:
        f = JsonFields(obj, operation, "ImageTag")
        return cls(tag_id=f.text("tagId"), tag_name=f.opt_text("tagName"), created=f.opt_time("created"))


@dataclass(frozen=True)
class Prediction:
    tag_id: str
    tag_name: str | None
    probability: float | None
    tag_type: str | None

    @classmethod
    def from_json(cls, obj: object, operation: str) -> Prediction:
        f = JsonFields(obj, operation, "Prediction")
        return cls(
            tag_id=f.text("tagId"),
            tag_name=f.opt_text("tagName"),
            probability=f.opt_number("probability"),
            tag_type=f.opt_text("tagType"),
        )


@dataclass(frozen=True)
class Image:
    id: str
    created: datetime | None
    width: int | None
    height: int | None
    original_image_uri: str | None
    resized_image_uri: str | None
    thumbnail_uri: str | None
    tags: tuple[ImageTag, ...]
    region_count: int
    metadata: Mapping[str, str] = field(compare=False)
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: object, operation: str) -> Image:
        f = JsonFields(obj, operation, "Image")
        return cls(
            id=f.text("id"),
            created=f.opt_time("created"),
            width=f.opt_integer("width"),
            height=f.opt_integer("height"),
            original_image_uri=f.opt_text("originalImageUri"),
            resized_image_uri=f.opt_text("resizedImageUri"),
            thumbnail_uri=f.opt_text("thumbnailUri"),
            tags=tuple(ImageTag.from_json(t, operation) for t in f.array("tags")),
            region_count=len(f.array("regions")),
            metadata=f.text_map("metadata"),
            raw=f.obj,
        )


@dataclass(frozen=True)
class ImagePerformance:
    id: str
    created: datetime | None
    width: int | None
    height: int | None
    image_uri: str | None
    thumbnail_uri: str | None
    tags: tuple[ImageTag, ...]
    predictions: tuple[Prediction, ...]
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: object, operation: str) -> ImagePerformance:
        f = JsonFields(obj, operation, "ImagePerformance")
        return cls(
            id=f.text("id"),
            created=f.opt_time("created"),
            width=f.opt_integer("width"),
            height=f.opt_integer("height"),
            image_uri=f.opt_text("imageUri"),
            thumbnail_uri=f.opt_text("thumbnailUri"),
            tags=tuple(ImageTag.from_json(t, operation) for t in f.array("tags")),
            predictions=tuple(Prediction.from_json(p, operation) for p in f.array("predictions")),
            raw=f.obj,
        )


@dataclass(frozen=True)
class Tag:
    id: str
    name: str
    description: str | None
    type: str | None
    image_count: int | None
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: object, operation: str) -> Tag:
        f = JsonFields(obj, operation, "Tag")
        return cls(
            id=f.text("id"),
            name=f.text("name"),
            description=f.opt_text("description"),
            type=f.opt_text("type"),
            image_count=f.opt_integer("imageCount"),
            raw=f.obj,
        )


@dataclass(frozen=True)
class Export:
    platform: str
    status: str
    download_uri: str | None
    """A SAS-style blob URI: a bearer secret while valid. Fetch with ``open_download``; do not log it."""
    flavor: str | None
    newer_version_available: bool
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: object, operation: str) -> Export:
        f = JsonFields(obj, operation, "Export")
        return cls(
            platform=f.text("platform"),
            status=f.text("status"),
            download_uri=f.opt_text("downloadUri"),
            flavor=f.opt_text("flavor"),
            newer_version_available=bool(f.opt_flag("newerVersionAvailable")),
            raw=f.obj,
        )


@dataclass(frozen=True)
class StoredImagePrediction:
    id: str
    project_id: str | None
    iteration_id: str | None
    domain_id: str | None
    created: datetime | None
    original_image_uri: str | None
    resized_image_uri: str | None
    thumbnail_uri: str | None
    predictions: tuple[Prediction, ...]
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: object, operation: str) -> StoredImagePrediction:
        f = JsonFields(obj, operation, "StoredImagePrediction")
        return cls(
            id=f.text("id"),
            project_id=f.opt_text("project"),
            iteration_id=f.opt_text("iteration"),
            domain_id=f.opt_text("domain"),
            created=f.opt_time("created"),
            original_image_uri=f.opt_text("originalImageUri"),
            resized_image_uri=f.opt_text("resizedImageUri"),
            thumbnail_uri=f.opt_text("thumbnailUri"),
            predictions=tuple(Prediction.from_json(p, operation) for p in f.array("predictions")),
            raw=f.obj,
        )


def parse_list(items: object, operation: str, what: str) -> list[Any]:
    """The top-level array of a list response."""
    if not isinstance(items, list):
        raise UnexpectedResponseError(operation, None, f"{what} list is not a JSON array")
    return items
