"""The official SDK (3.1.1, /customvision/v3.4-preview/training) drives the emulator through every
category, gets what the emulator state holds, and every response validates against the official
OpenAPI schema of its operation (read from shared/ at test time)."""

from __future__ import annotations

import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    PredictionQueryToken,
)
from msrest.authentication import ApiKeyCredentials

pytestmark = pytest.mark.timeout(120)


class Recorder:
    """Calls an SDK operation with ``raw=True`` and validates the HTTP response against the spec."""

    def __init__(self, sdk: CustomVisionTrainingClient, spec) -> None:
        self.sdk = sdk
        self.spec = spec

    def __call__(self, operation_id: str, method: str, *args, **kwargs):
        raw = getattr(self.sdk, method)(*args, raw=True, **kwargs)
        self.spec.check(operation_id, raw.response.status_code, raw.response.content)
        return raw.output

    def error(self, operation_id: str, method: str, *args, **kwargs) -> dict:
        with pytest.raises(CustomVisionErrorException) as info:
            getattr(self.sdk, method)(*args, **kwargs)
        response = info.value.response
        return self.spec.check(operation_id, response.status_code, response.content) | {
            "status": response.status_code
        }


@pytest.fixture
def sdk(server, keys, spec_v34):
    credentials = ApiKeyCredentials(in_headers={"Training-key": keys["account-1"]})
    return Recorder(CustomVisionTrainingClient(server.base_url, credentials), spec_v34)


def _project(state):
    return next(iter(state.account("account-1").projects.values()))


def test_projects_and_export(sdk, state):
    projects = sdk("GetProjects", "get_projects")
    assert {p.id for p in projects} == set(state.account("account-1").projects)
    record = _project(state)
    project = sdk("GetProject", "get_project", record.id)
    assert (project.name, project.settings.domain_id) == (record.name, record.domain_id)
    exported = sdk("ExportProject", "export_project", record.id)
    assert (exported.image_count, exported.tag_count, exported.iteration_count) == (40, 3, 2)


def test_iterations_performance_and_exports(sdk, state):
    record = _project(state)
    iterations = sdk("GetIterations", "get_iterations", record.id)
    assert [i.id for i in iterations] == list(record.iterations)
    assert [i.publish_name for i in iterations] == [it.publish_name for it in record.iterations.values()]
    first = sdk("GetIteration", "get_iteration", record.id, iterations[0].id)
    assert first.status == "Completed"
    performance = sdk(
        "GetIterationPerformance", "get_iteration_performance", record.id, first.id, threshold=0.5
    )
    assert {t.id for t in performance.per_tag_performance} == set(record.tags)
    images = sdk("GetImagePerformances", "get_image_performances", record.id, first.id, take=256)
    count = sdk("GetImagePerformanceCount", "get_image_performance_count", record.id, first.id)
    expected = {i for i in record.iterations[first.id].image_ids if record.images[i].tag_ids}
    assert {i.id for i in images} == expected
    assert count == len(expected)
    exports = sdk("GetExports", "get_exports", record.id, first.id)
    assert [e.platform for e in exports] == [e.platform for e in record.iterations[first.id].exports]


def test_tags(sdk, state):
    record = _project(state)
    tags = sdk("GetTags", "get_tags", record.id)
    assert {t.id: t.name for t in tags} == {t.id: t.name for t in record.tags.values()}
    tag = sdk("GetTag", "get_tag", record.id, tags[0].id)
    assert tag.image_count == sum(1 for i in record.images.values() if tags[0].id in i.tag_ids)
    sdk("DeleteTag", "delete_tag", record.id, tags[0].id)
    assert tags[0].id not in record.tags


def test_images_tagged_untagged_ids_filter_and_counts(sdk, state):
    record = _project(state)
    tagged = sdk("GetTaggedImages", "get_tagged_images", record.id, take=256)
    untagged = sdk("GetUntaggedImages", "get_untagged_images", record.id, take=256)
    assert {i.id for i in tagged} == {i.id for i in record.images.values() if i.tag_ids}
    assert {i.id for i in untagged} == {i.id for i in record.images.values() if not i.tag_ids}
    assert sdk("GetTaggedImageCount", "get_tagged_image_count", record.id) == len(tagged)
    assert sdk("GetUntaggedImageCount", "get_untagged_image_count", record.id) == len(untagged)
    ids = [i.id for i in tagged[:5]]
    by_ids = sdk("GetImagesByIds", "get_images_by_ids", record.id, image_ids=ids)
    assert sorted(i.id for i in by_ids) == sorted(ids)
    subject = "subject-002"
    filtered = sdk("GetImages", "get_images", record.id, filter=f"subjectId eq '{subject}'", take=256)
    expected = {i.id for i in record.images.values() if i.metadata.get("subjectId") == subject}
    assert {i.id for i in filtered} == expected
    assert all(i.metadata["subjectId"] == subject for i in filtered)
    count = sdk("GetImageCount", "get_image_count", record.id, filter=f"subjectId eq '{subject}'")
    assert count == len(expected)
    all_images = sdk("GetImages", "get_images", record.id, take=256)
    assert len(all_images) == 40


def test_delete_images(sdk, state):
    record = _project(state)
    ids = list(record.images)[:4]
    sdk("DeleteImages", "delete_images", record.id, image_ids=ids, all_iterations=True)
    assert not set(ids) & set(record.images)
    assert sdk("GetImagesByIds", "get_images_by_ids", record.id, image_ids=ids) == []


def test_predictions_query_and_delete(sdk, state):
    record = _project(state)
    found = []
    token = PredictionQueryToken(max_count=7, order_by="Newest")
    while True:
        result = sdk("QueryPredictions", "query_predictions", record.id, token)
        found += result.results
        if not result.token.continuation:
            break
        token = result.token
    assert sorted(p.id for p in found) == sorted(record.predictions)
    portal = sdk(
        "QueryPredictions", "query_predictions", record.id, PredictionQueryToken(application="portal")
    )
    assert {p.id for p in portal.results} == {
        p.id for p in record.predictions.values() if p.application == "portal"
    }
    doomed = [p.id for p in portal.results]
    sdk("DeletePrediction", "delete_prediction", record.id, doomed)
    assert not set(doomed) & set(record.predictions)


def test_published_iteration_refuses_delete_then_project_deletes(sdk, state):
    record = _project(state)
    published = record.published_iterations()[0]
    error = sdk.error("DeleteIteration", "delete_iteration", record.id, published.id)
    assert (error["status"], error["code"]) == (400, "BadRequestIterationIsPublished")
    sdk("UnpublishIteration", "unpublish_iteration", record.id, published.id)
    sdk("DeleteIteration", "delete_iteration", record.id, published.id)
    assert published.id not in record.iterations
    sdk("DeleteProject", "delete_project", record.id)
    assert record.id not in state.account("account-1").projects
    gone = sdk.error("GetProject", "get_project", record.id)
    assert (gone["status"], gone["code"]) == (404, "NotFoundProject")


def test_not_found_codes(sdk, state):
    record = _project(state)
    missing = "00000000-0000-0000-0000-000000000000"
    assert sdk.error("GetIteration", "get_iteration", record.id, missing)["code"] == "NotFoundIteration"
    assert sdk.error("GetTag", "get_tag", record.id, missing)["code"] == "NotFoundTag"
    assert sdk.error("GetProject", "get_project", missing)["code"] == "NotFoundProject"


def test_every_category_was_validated(sdk, state, spec_v34):
    for test in (
        test_projects_and_export,
        test_iterations_performance_and_exports,
        test_tags,
        test_images_tagged_untagged_ids_filter_and_counts,
        test_predictions_query_and_delete,
        test_delete_images,
    ):
        test(sdk, state)
    validated = {operation for operation, _ in spec_v34.checked}
    assert validated >= {
        "GetProjects", "GetProject", "ExportProject", "GetIterations", "GetIteration",
        "GetIterationPerformance",
        "GetImagePerformances", "GetImagePerformanceCount", "GetExports", "GetTags", "GetTag", "DeleteTag",
        "GetTaggedImages", "GetUntaggedImages", "GetImagesByIds", "GetImages", "GetImageCount",
        "QueryPredictions", "DeletePrediction", "DeleteImages",
    }  # fmt: skip
