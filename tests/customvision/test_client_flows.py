"""Our client against the emulator: every category's list/get/delete returns what the state holds."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest

from dsr.customvision import IterationPublishedError, NotFoundError, TrainingClient
from emulator.seed import BASE_TIME, QUOTED_SUBJECT


def _flatten(pages):
    return [item for page in pages for item in page]


def _project(state, index=0):
    return list(state.account("account-1").projects.values())[index]


def test_projects_and_export_counts(client: TrainingClient, state):
    projects = client.get_projects()
    assert {p.id for p in projects} == set(state.account("account-1").projects)
    record = _project(state)
    project = client.get_project(record.id)
    assert (project.name, project.description, project.domain_id) == (
        record.name,
        record.description,
        record.domain_id,
    )
    assert project.raw["settings"]["domainId"] == record.domain_id
    counts = client.get_project_export_counts(record.id)
    assert (counts.iteration_count, counts.image_count, counts.tag_count) == (2, 40, 3)
    assert "token" not in counts.raw
    assert "token" not in repr(counts)


def test_projects_are_isolated_per_account(make_client, keys, state):
    other = make_client(keys["account-2"])
    with pytest.raises(NotFoundError) as info:
        other.get_project(_project(state).id)
    assert info.value.code == "NotFoundProject"


def test_iterations_performance_and_exports(client, state):
    record = _project(state)
    iterations = client.get_iterations(record.id)
    assert [i.id for i in iterations] == list(record.iterations)
    published = [i for i in iterations if i.is_published]
    assert [i.publish_name for i in published] == [it.publish_name for it in record.published_iterations()]
    first = iterations[0]
    assert first.trained_at is not None
    assert first.project_id == record.id
    performance = client.get_iteration_performance(record.id, first.id, threshold=0.5)
    assert {t.id for t in performance.per_tag} == set(record.tags)
    stricter = client.get_iteration_performance(record.id, first.id, threshold=0.9)
    assert stricter.precision is not None
    assert performance.precision is not None
    assert stricter.precision > performance.precision
    image_perf = _flatten(client.iter_image_performances(record.id, first.id))
    expected = [i for i in record.iterations[first.id].image_ids if record.images[i].tag_ids]
    assert sorted(p.id for p in image_perf) == sorted(expected)
    assert all(p.predictions for p in image_perf)
    exports = client.get_exports(record.id, first.id)
    assert [(e.platform, e.flavor) for e in exports] == [("ONNX", "ONNX12"), ("TensorFlow", None)]
    with client.open_download(exports[0].download_uri) as chunks:
        archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.namelist() == ["model.txt"]


def test_tags(client, state):
    record = _project(state)
    tags = client.get_tags(record.id)
    assert {t.id: t.name for t in tags} == {t.id: t.name for t in record.tags.values()}
    for tag in tags:
        assert tag.image_count == sum(
            1 for img in record.images.values() if img.in_workspace and tag.id in img.tag_ids
        )
    iteration_id = next(iter(record.iterations))
    assert {t.id for t in client.get_tags(record.id, iteration_id=iteration_id)} == set(record.tags)


def test_images_untagged_and_by_ids(client, state):
    record = _project(state)
    everything = _flatten(client.iter_images(record.id))
    assert sorted(i.id for i in everything) == sorted(record.images)
    assert len(everything) == 40
    untagged = _flatten(client.iter_untagged_images(record.id))
    assert {i.id for i in untagged} == {i.id for i in record.images.values() if not i.tag_ids}
    sample = [i.id for i in everything[:7]]
    assert sorted(i.id for i in client.get_images_by_ids(record.id, sample)) == sorted(sample)
    image = everything[0]
    assert image.metadata == record.images[image.id].metadata
    assert image.raw["id"] == image.id
    with client.open_download(image.original_image_uri) as chunks:
        assert b"".join(chunks).startswith(b"\x89PNG\r\n\x1a\n")
    assert state.blob_counters.get("withTrainingKey", 0) == 0


def test_metadata_filter_finds_exactly_one_subject(client, state):
    record = _project(state)
    for subject in ("subject-001", QUOTED_SUBJECT):
        found = _flatten(client.iter_images(record.id, metadata={"subjectId": subject}))
        expected = {i.id for i in record.images.values() if i.metadata.get("subjectId") == subject}
        assert expected
        assert {i.id for i in found} == expected
    both = _flatten(client.iter_images(record.id, metadata={"subjectId": "subject-001", "camera": "cam-0"}))
    assert all(i.metadata == {"subjectId": "subject-001", "camera": "cam-0"} for i in both)


def test_filter_injection_returns_only_exact_matches(client, state):
    record = _project(state)
    hostile = "x' or '1' eq '1"
    target = next(iter(record.images.values()))
    target.metadata = {"subjectId": hostile}
    record.changed()
    found = _flatten(client.iter_images(record.id, metadata={"subjectId": hostile}))
    assert [i.id for i in found] == [target.id]
    assert _flatten(client.iter_images(record.id, metadata={"subjectId": "x"})) == []


def test_predictions_query_pages_filters_and_delete(client, state):
    record = _project(state)
    pages = list(client.iter_predictions(record.id))
    assert sorted(p.id for p in _flatten(pages)) == sorted(record.predictions)
    portal = _flatten(client.iter_predictions(record.id, application="portal"))
    assert {p.id for p in portal} == {p.id for p in record.predictions.values() if p.application == "portal"}
    start = BASE_TIME + timedelta(days=31, minutes=100)
    end = BASE_TIME + timedelta(days=31, minutes=300)
    window = _flatten(client.iter_predictions(record.id, start_time=start, end_time=end))
    assert {p.id for p in window} == {p.id for p in record.predictions.values() if start <= p.created <= end}
    doomed = [p.id for p in portal]
    outcomes = client.delete_predictions(record.id, doomed)
    assert [o.status for o in outcomes] == [204]
    assert not set(doomed) & set(record.predictions)


def test_prediction_paging_follows_continuation(client, state, recorder):
    record = _project(state)
    for n, prediction in enumerate(list(record.predictions.values())):
        for extra in range(20):
            clone = type(prediction)(**{**vars(prediction), "id": f"{prediction.id[:-4]}{n:02d}{extra:02d}"})
            record.predictions[clone.id] = clone
    pages = list(client.iter_predictions(record.id))
    assert [len(page) for page in pages] == [256, 256, len(record.predictions) - 512]
    assert len({p.id for p in _flatten(pages)}) == len(record.predictions)
    assert [c.operation for c in recorder.records].count("QueryPredictions") == 3


def test_delete_images_tag_iteration_project(client, state):
    record = _project(state)
    ids = list(record.images)[:3]
    outcomes = client.delete_images(record.id, ids)
    assert [(o.status, o.accepted_async) for o in outcomes] == [(202, True)]
    assert not set(ids) & set(record.images)
    assert client.get_images_by_ids(record.id, ids) == []
    tag_id = next(iter(record.tags))
    client.delete_tag(record.id, tag_id)
    assert tag_id not in record.tags
    published = record.published_iterations()[0]
    with pytest.raises(IterationPublishedError):
        client.delete_iteration(record.id, published.id)
    client.unpublish_iteration(record.id, published.id)
    client.delete_iteration(record.id, published.id)
    assert published.id not in record.iterations
    client.delete_project(record.id)
    assert record.id not in state.account("account-1").projects
    with pytest.raises(NotFoundError):
        client.get_project(record.id)


def test_delete_from_workspace_only_keeps_iteration_copies(client, state):
    record = _project(state)
    iteration = next(iter(record.iterations.values()))
    image_id = next(iter(iteration.image_ids))
    [outcome] = client.delete_images(record.id, [image_id], all_iterations=False)
    assert outcome.status == 204
    assert client.get_images_by_ids(record.id, [image_id]) == []
    assert [i.id for i in client.get_images_by_ids(record.id, [image_id], iteration_id=iteration.id)] == [
        image_id
    ]


def test_large_batches_are_chunked(client, state, recorder):
    record = _project(state)
    ids = list(record.images) * 7  # 280 ids: two GetImagesByIds calls
    assert len(client.get_images_by_ids(record.id, ids)) == 280
    assert [c.operation for c in recorder.records].count("GetImagesByIds") == 2
    predictions = list(record.predictions) + [p[:-2] + "00" for p in record.predictions] * 2
    outcomes = client.delete_predictions(record.id, predictions)
    assert [len(o.ids) for o in outcomes] == [64, 26]
