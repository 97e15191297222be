"""Deterministic datasets for the emulator: same spec and seed, same ids, metadata, tags and bytes.

Some images carry a data subject's metadata (``{"subjectId": "subject-001"}``; one subject id contains a
quote to exercise ``$filter`` escaping), some are untagged, the last iteration of each project is
published, earlier ones have exports, and published iterations have stored predictions.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from emulator.state import (
    Account,
    EmulatorState,
    ExportRecord,
    ImageRecord,
    IterationRecord,
    PredictionRecord,
    ProjectRecord,
    TagRecord,
    TagScore,
)

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
APPLICATIONS = ("portal", "mobile-app", "batch-scorer")
QUOTED_SUBJECT = "subject-o'brien"
PREDICTION_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/demo"
    "/providers/Microsoft.CognitiveServices/accounts/demo-prediction"
)
DOMAIN_ID = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"  # the "General" classification domain


@dataclass(frozen=True)
class SeedSpec:
    accounts: int = 1
    projects_per_account: int = 2
    images_per_project: int = 40
    tags_per_project: int = 3
    iterations_per_project: int = 2
    predictions_per_project: int = 30
    subjects: int = 4
    """Subject ids used in metadata; every image of index i % (subjects + 2) < subjects gets one."""
    untagged_every: int = 4
    """Every n-th image has no tag."""
    seed: int = 7


PRESETS: dict[str, SeedSpec] = {
    "demo": SeedSpec(),
    "small": SeedSpec(projects_per_account=1, images_per_project=12, predictions_per_project=8),
    "multi": SeedSpec(accounts=3, projects_per_account=2, images_per_project=30),
    "large": SeedSpec(
        projects_per_account=1,
        images_per_project=100_000,
        iterations_per_project=1,
        predictions_per_project=1000,
        subjects=50,
    ),
}


def account_name(index: int) -> str:
    return f"account-{index + 1}"


def subject_id(index: int, subjects: int) -> str:
    """The ``index``-th subject; the last one contains a quote."""
    return QUOTED_SUBJECT if index == subjects - 1 else f"subject-{index + 1:03d}"


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def next(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def build_state(spec: SeedSpec, keys: Mapping[str, str]) -> EmulatorState:
    """A state with ``spec.accounts`` accounts; ``keys`` maps account names (``account-1``...) to keys."""
    rng = random.Random(spec.seed)
    ids = _Ids(rng)
    state = EmulatorState()
    for a in range(spec.accounts):
        name = account_name(a)
        if name not in keys:
            raise ValueError(f"no key given for {name}")
        account = state.add_account(Account(name, keys[name]))
        for p in range(spec.projects_per_account):
            account.add_project(build_project(spec, rng, ids, f"{name} project {p + 1}"))
    return state


def build_project(spec: SeedSpec, rng: random.Random, ids: _Ids, name: str) -> ProjectRecord:
    project = ProjectRecord(ids.next(), name, f"Seeded project {name}", DOMAIN_ID, BASE_TIME)
    for t in range(spec.tags_per_project):
        tag = TagRecord(
            ids.next(), f"tag-{t + 1}", None if t % 2 else f"Tag number {t + 1}", "Regular", BASE_TIME
        )
        project.tags[tag.id] = tag
    tag_ids = list(project.tags)
    images = add_images(project, spec.images_per_project, ids, rng, spec=spec, tag_ids=tag_ids)
    for i in range(spec.iterations_per_project):
        cutoff = len(images) * (i + 1) // spec.iterations_per_project
        trained = BASE_TIME + timedelta(days=30 + i)
        iteration = IterationRecord(
            ids.next(),
            f"Iteration {i + 1}",
            trained - timedelta(hours=1),
            trained,
            DOMAIN_ID,
            image_ids={img.id for img in images[:cutoff]},
            tag_ids=set(tag_ids),
            scores=[
                TagScore(
                    t,
                    round(0.6 + rng.random() * 0.35, 4),
                    round(0.55 + rng.random() * 0.4, 4),
                    round(0.6 + rng.random() * 0.3, 4),
                )
                for t in tag_ids
            ],
        )
        last = i == spec.iterations_per_project - 1
        if last:
            iteration.publish_name = f"model-{project.id[:8]}"
            iteration.prediction_resource_id = PREDICTION_RESOURCE_ID
        else:
            iteration.exports = [
                ExportRecord("ONNX", flavor="ONNX12"),
                ExportRecord("TensorFlow", flavor=None),
            ]
        project.iterations[iteration.id] = iteration
    published = project.published_iterations()
    if published:
        for n in range(spec.predictions_per_project):
            created = BASE_TIME + timedelta(days=31, minutes=17 * n)
            scores = sorted(((t, round(rng.random(), 4)) for t in tag_ids), key=lambda pair: -pair[1])
            prediction = PredictionRecord(
                ids.next(), created, published[0].id, DOMAIN_ID, APPLICATIONS[n % len(APPLICATIONS)], scores
            )
            project.predictions[prediction.id] = prediction
    return project


def add_images(
    project: ProjectRecord,
    count: int,
    ids: _Ids,
    rng: random.Random,
    *,
    spec: SeedSpec,
    tag_ids: list[str],
) -> list[ImageRecord]:
    """Append ``count`` images (cheap: ids and metadata only; bytes are rendered on download)."""
    images = []
    cycle = spec.subjects + 2
    for i in range(count):
        metadata: dict[str, str] = {}
        if spec.subjects and i % cycle < spec.subjects:
            metadata["subjectId"] = subject_id(i % cycle, spec.subjects)
        if i % 3 == 0:
            metadata["camera"] = f"cam-{i % 5}"
        tags = (
            []
            if not tag_ids or i % spec.untagged_every == spec.untagged_every - 1
            else [tag_ids[i % len(tag_ids)]]
        )
        image = ImageRecord(
            ids.next(),
            BASE_TIME + timedelta(minutes=i),
            40 + rng.randrange(4) * 8,
            30 + rng.randrange(4) * 6,
            tags,
            metadata,
        )
        project.images[image.id] = image
        images.append(image)
    project.changed()
    return images


def preset(name: str, keys: Mapping[str, str]) -> EmulatorState:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(sorted(PRESETS))}")
    return build_state(PRESETS[name], keys)
