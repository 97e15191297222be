"""Portability (GDPR Art. 20), proven: an export's COCO files and original bytes are imported into an
empty emulated account through the official SDK, and the new account holds the same tags, regions and
image bytes as the source. The source has a seeded classification project and an object-detection
project built through the SDK, so both annotation kinds make the trip."""

from __future__ import annotations

import hashlib
import json
import posixpath
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from azure.storage.blob import ContainerClient
from msrest.authentication import ApiKeyCredentials

from emulator import EmulatorServer, build_state
from emulator.png import make_png
from emulator.seed import SeedSpec
from tests.package.inprocess import run_request, runtime_for

pytestmark = [pytest.mark.services, pytest.mark.slow]

OBJECT_DETECTION_DOMAIN = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"  # "General [Compact]" OD domain id
BATCH = 64


def sdk_for(server: EmulatorServer, key: str) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(server.base_url, ApiKeyCredentials(in_headers={"Training-key": key}))


def build_detection_project(sdk: CustomVisionTrainingClient) -> None:
    """An object-detection project with boxes, through the SDK (the seed has none)."""
    project = sdk.create_project("boxes", description="detection", domain_id=OBJECT_DETECTION_DOMAIN)
    cat = sdk.create_tag(project.id, "cat")
    dog = sdk.create_tag(project.id, "dog")
    entries = [
        ImageFileCreateEntry(
            name=f"img-{n}.png",
            contents=bytearray(make_png(64 + n, 48, seed=f"boxes-{n}")),
            regions=[Region(tag_id=cat.id, left=0.1, top=0.2, width=0.25, height=0.5)]
            + ([Region(tag_id=dog.id, left=0.5, top=0.125, width=0.375, height=0.75)] if n % 2 else []),
        )
        for n in range(6)
    ]
    summary = sdk.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful


def import_export(sdk: CustomVisionTrainingClient, folder: Any, root: str) -> None:
    """Import every project of an export into the SDK's (empty) account from coco.json + bytes."""
    projects = json.loads(folder(f"{root}/projects.json"))
    for entry in projects:
        source = entry["project"]
        coco = json.loads(folder(f"{root}/images/{source['id']}/coco.json"))
        project = sdk.create_project(
            source["name"],
            description=source.get("description"),
            domain_id=source["settings"]["domainId"],
            classification_type=source["settings"].get("classificationType"),
        )
        tags = {c["id"]: sdk.create_tag(project.id, c["name"]).id for c in coco["categories"]}
        annotations: dict[int, list[dict[str, Any]]] = {}
        for annotation in coco["annotations"]:
            annotations.setdefault(annotation["image_id"], []).append(annotation)
        entries = []
        for image in coco["images"]:
            width, height = image["width"], image["height"]
            labels = annotations.get(image["id"], [])
            boxes = [a for a in labels if "bbox" in a]
            entries.append(
                ImageFileCreateEntry(
                    name=image["file_name"],
                    contents=bytearray(
                        folder(posixpath.join(f"{root}/images/{source['id']}", image["file_name"]))
                    ),
                    tag_ids=[tags[a["category_id"]] for a in labels if "bbox" not in a],
                    regions=[
                        Region(
                            tag_id=tags[a["category_id"]],
                            left=a["bbox"][0] / width,
                            top=a["bbox"][1] / height,
                            width=a["bbox"][2] / width,
                            height=a["bbox"][3] / height,
                        )
                        for a in boxes
                    ]
                    or None,
                )
            )
        for start in range(0, len(entries), BATCH):
            batch = ImageFileCreateBatch(images=entries[start : start + BATCH])
            assert sdk.create_images_from_files(project.id, batch).is_batch_successful


def account_contents(sdk: CustomVisionTrainingClient) -> dict[str, Any]:
    """Per project name: tag names, and per image (by sha256 of its bytes) its tags and regions."""
    contents: dict[str, Any] = {}
    for project in sdk.get_projects():
        tags = {t.id: t.name for t in sdk.get_tags(project.id)}
        images: dict[str, Any] = {}
        for listing in (sdk.get_tagged_images, sdk.get_untagged_images):
            for image in listing(project.id, take=256):
                data = requests.get(image.original_image_uri, timeout=30).content
                images[hashlib.sha256(data).hexdigest()] = {
                    "tags": sorted(tags[t.tag_id] for t in image.tags or []),
                    "regions": sorted(
                        (
                            tags[r.tag_id],
                            round(r.left, 4),
                            round(r.top, 4),
                            round(r.width, 4),
                            round(r.height, 4),
                        )
                        for r in image.regions or []
                    ),
                    "size": (image.width, image.height),
                }
        contents[project.name] = {"tags": sorted(tags.values()), "images": images}
    return contents


@pytest.fixture
def accounts() -> Iterator[tuple[EmulatorServer, str, EmulatorServer, str]]:
    source_key, target_key = secrets.token_hex(16), secrets.token_hex(16)
    spec = SeedSpec(projects_per_account=1, images_per_project=30, iterations_per_project=1)
    empty = SeedSpec(projects_per_account=0)
    with (
        EmulatorServer(build_state(spec, {"account-1": source_key})) as source,
        EmulatorServer(build_state(empty, {"account-1": target_key})) as target,
    ):
        yield source, source_key, target, target_key


def test_export_imports_into_an_empty_account_with_the_same_tags_regions_and_bytes(settings, accounts):
    source, source_key, target, target_key = accounts
    build_detection_project(sdk_for(source, source_key))
    runtime = runtime_for(settings, source, source_key, f"trip-{uuid.uuid4().hex[:10]}")
    document = run_request(
        runtime, source.base_url, operation="export", categories=["projects", "tags", "images"]
    )
    assert document["state"] == "succeeded", document
    blobs = ContainerClient.from_connection_string(
        settings.storage_connection, runtime.settings.export_container
    )
    import_export(
        sdk_for(target, target_key),
        lambda path: blobs.download_blob(path).readall(),
        f"{document['requestId']}/export",
    )
    expected = account_contents(sdk_for(source, source_key))
    imported = account_contents(sdk_for(target, target_key))
    assert set(imported) == set(expected) == {"account-1 project 1", "boxes"}
    for name, project in expected.items():
        assert imported[name]["tags"] == project["tags"]
        assert imported[name]["images"] == project["images"]  # same bytes, tags and regions
    assert any(image["regions"] for image in expected["boxes"]["images"].values())
    assert any(image["tags"] for image in expected["account-1 project 1"]["images"].values())
