"""The baseline: a plain sequential script over the official SDK (``azure-cognitiveservices-vision-
customvision``) and ``azure-storage-blob``, exporting the same categories to the same storage and
deleting the same data, one call after the other, paced at the account's calls/s.

It is what a careful engineer would write in an afternoon, not a straw man: maximum page sizes,
batched deletes, one listing per thing, and a pace that keeps it out of 429s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import PredictionQueryToken
from azure.storage.blob import ContainerClient
from msrest.authentication import ApiKeyCredentials

PAGE = 256
T = TypeVar("T")


class Paced:
    """Calls ``fn`` no faster than ``rate`` per second (the script's only concession to the limit)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        wait = self._next - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._next = max(time.monotonic(), self._next) + self._interval
        return fn(*args, **kwargs)


def _client(endpoint: str, key: str) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(endpoint, ApiKeyCredentials(in_headers={"Training-key": key}))


def _pages(call: Paced, fn: Callable[..., list[Any]], *args: Any, **kwargs: Any) -> Iterator[Any]:
    skip = 0
    while True:
        page = call(fn, *args, take=PAGE, skip=skip, **kwargs)
        yield from page
        if len(page) < PAGE:
            return
        skip += len(page)


def _copy(session: requests.Session, container: ContainerClient, uri: str | None, name: str) -> None:
    if uri:
        data = session.get(uri, timeout=30).content
        container.upload_blob(name, data, overwrite=True)


def export(endpoint: str, key: str, container: ContainerClient, root: str, rate: float) -> None:
    """Export every category of every project to ``root/`` in ``container``, sequentially."""
    cv, call, session = _client(endpoint, key), Paced(rate), requests.Session()

    def put(name: str, value: Any) -> None:
        container.upload_blob(f"{root}/{name}", json.dumps(value, default=str), overwrite=True)

    projects = call(cv.get_projects)
    put("projects.json", [p.as_dict() for p in projects])
    for project in projects:
        pid = project.id
        put(f"{pid}/counts.json", call(cv.export_project, pid).as_dict())
        put(f"{pid}/tags.json", [t.as_dict() for t in call(cv.get_tags, pid)])
        iterations = call(cv.get_iterations, pid)
        put(f"{pid}/iterations.json", [i.as_dict() for i in iterations])
        workspace: set[str] = set()
        for image in _pages(call, cv.get_images, pid):
            workspace.add(image.id)
            _copy(session, container, image.original_image_uri, f"{root}/{pid}/images/{image.id}")
        for iteration in iterations:
            if iteration.status != "Completed":
                continue
            iid = iteration.id
            put(f"{pid}/{iid}/exports.json", [e.as_dict() for e in call(cv.get_exports, pid, iid)])
            put(f"{pid}/{iid}/performance.json", call(cv.get_iteration_performance, pid, iid).as_dict())
            performances = [p.as_dict() for p in _pages(call, cv.get_image_performances, pid, iid)]
            put(f"{pid}/{iid}/image-performances.json", performances)
            held = [p["id"] for p in performances]
            held += [i.id for i in _pages(call, cv.get_untagged_images, pid, iteration_id=iid)]
            absent = [i for i in held if i not in workspace]
            for start in range(0, len(absent), PAGE):
                chunk = absent[start : start + PAGE]
                for image in call(cv.get_images_by_ids, pid, image_ids=chunk, iteration_id=iid):
                    workspace.add(image.id)
                    _copy(session, container, image.original_image_uri, f"{root}/{pid}/images/{image.id}")
        token = PredictionQueryToken(max_count=PAGE, order_by="Newest")
        while True:
            result = call(cv.query_predictions, pid, token)
            for prediction in result.results:
                _copy(
                    session,
                    container,
                    prediction.original_image_uri,
                    f"{root}/{pid}/predictions/{prediction.id}",
                )
            if not result.results or not result.token or not result.token.continuation:
                break
            token = result.token


def delete(endpoint: str, key: str, rate: float) -> None:
    """Delete every project's predictions, images, tags, iterations and the project, sequentially."""
    cv, call = _client(endpoint, key), Paced(rate)
    for project in call(cv.get_projects):
        pid = project.id
        iterations = call(cv.get_iterations, pid)
        ids = {i.id for i in _pages(call, cv.get_images, pid)}
        for iteration in iterations:
            if iteration.status == "Completed":
                ids.update(i.id for i in _pages(call, cv.get_images, pid, iteration_id=iteration.id))
        ordered = sorted(ids)
        for start in range(0, len(ordered), PAGE):
            call(cv.delete_images, pid, image_ids=ordered[start : start + PAGE], all_iterations=True)
        predictions = call(cv.query_predictions, pid, PredictionQueryToken(max_count=PAGE)).results
        found = [p.id for p in predictions]
        for start in range(0, len(found), 64):
            call(cv.delete_prediction, pid, found[start : start + 64])
        for tag in call(cv.get_tags, pid):
            call(cv.delete_tag, pid, tag.id)
        for iteration in iterations:
            if iteration.publish_name:
                call(cv.unpublish_iteration, pid, iteration.id)
            call(cv.delete_iteration, pid, iteration.id)
        call(cv.delete_project, pid)
