"""What the package holds: no credentials in any file, one document per fact, COCO annotations that
the reference implementation reads, a manifest built from the units' results, and the zip."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
import requests
from azure.storage.blob import ContainerClient
from pycocotools.coco import COCO

from dsr.signed_links import REMOVED_FIELD, is_signed
from tests.package.conftest import Scenario

pytestmark = [pytest.mark.services, pytest.mark.slow]


def container(settings, scenario: Scenario) -> ContainerClient:
    return ContainerClient.from_connection_string(settings.storage_connection, scenario.container)


def exported(settings, scenario: Scenario, name: str) -> dict[str, bytes]:
    """Every blob a request wrote, by name, read back from Azurite."""
    client = container(settings, scenario)
    prefix = scenario.documents[name]["requestId"] + "/"
    return {
        b.name: client.download_blob(b.name).readall() for b in client.list_blobs(name_starts_with=prefix)
    }


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def json_documents(name: str, data: bytes):
    if name.endswith(".ndjson"):
        return [json.loads(line) for line in data.splitlines() if line.strip()]
    if name.endswith(".json"):
        return [json.loads(data)]
    return []


@pytest.mark.parametrize("request_name", ["export", "subject"])
def test_no_exported_file_holds_a_signature(settings, demo, request_name):
    files = exported(settings, demo, request_name)
    if demo.documents[request_name]["request"]["zip"]:
        (zip_name,) = [n for n in files if n.endswith(".zip")]
        with zipfile.ZipFile(io.BytesIO(files[zip_name])) as archive:
            files.update({f"zip:{m}": archive.read(m) for m in archive.namelist()})
    assert len(files) > 10
    marked = 0
    for name, data in files.items():
        assert b"sig=" not in data, name
        for document in json_documents(name, data):
            assert not [s for s in strings_in(document) if is_signed(s)], name
            marked += sum(
                1
                for record in (document if isinstance(document, list) else [document])
                if isinstance(record, dict) and REMOVED_FIELD in record
            )
    assert marked > 0  # records say which links lost their signature


def test_images_keep_the_link_path_and_say_it_was_unsigned(settings, demo):
    files = exported(settings, demo, "export")
    part = next(n for n in files if "/images/" in n and n.endswith("images-0000000.ndjson"))
    record = json.loads(files[part].splitlines()[0])
    assert record["originalImageUri"].startswith(demo.server.base_url + "/_blob/images/")
    assert "?" not in record["originalImageUri"]
    assert {"originalImageUri", "thumbnailUri", "resizedImageUri"} <= set(record[REMOVED_FIELD])
    assert (
        "token"
        not in json.loads(files[f"{demo.documents['export']['requestId']}/export/projects.json"])[0]["counts"]
    )


def test_iteration_files_hold_different_facts(settings, demo):
    root = f"{demo.documents['export']['requestId']}/export"
    files = exported(settings, demo, "export")
    listing, details = files[f"{root}/iterations.json"], files[f"{root}/iteration-details.json"]
    assert listing != details
    for pid, iterations in json.loads(details).items():
        summaries = {it["id"]: it for it in json.loads(listing)[pid]}
        assert set(summaries) == {it["id"] for it in iterations}
        for it in iterations:
            assert set(summaries[it["id"]]) < set(it)  # the list is a summary of the details


def test_coco_per_project_reads_with_pycocotools(settings, demo, tmp_path: Path):
    document = demo.documents["export"]
    files = exported(settings, demo, "export")
    account = demo.server.state.account("account-1")
    for pid, project in account.projects.items():
        folder = f"{document['requestId']}/export/images/{pid}"
        path = tmp_path / f"{pid}.json"
        path.write_bytes(files[f"{folder}/coco.json"])
        coco = COCO(str(path))
        categories = {c["cv_tag_id"]: c for c in coco.loadCats(coco.getCatIds())}
        assert set(categories) == set(project.tags)
        images = coco.loadImgs(coco.getImgIds())
        assert {i["cv_image_id"] for i in images} == set(project.images)
        for image in images:
            source = project.images[image["cv_image_id"]]
            assert f"{folder}/{image['file_name']}" in files  # file_name resolves next to coco.json
            assert (image["width"], image["height"]) == (source.width, source.height)
            labels = {
                coco.cats[a["category_id"]]["cv_tag_id"] for a in coco.loadAnns(coco.getAnnIds(image["id"]))
            }
            assert labels == set(source.tag_ids)


def test_manifest_is_built_from_the_units_results(settings, demo):
    document = demo.documents["export"]
    root = f"{document['requestId']}/export"
    files = exported(settings, demo, "export")
    manifest = json.loads(files[f"{root}/manifest.json"])
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == {n.removeprefix(root + "/") for n in files if n.startswith(root + "/")} - {
        "manifest.json"
    }
    for path, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(files[f"{root}/{path}"]).hexdigest(), path
    assert manifest["fileCount"] == len(listed)
    assert manifest["totalBytes"] == sum(entry["bytes"] for entry in listed.values())


def test_zip_delivery_has_a_short_read_only_link(settings, demo):
    document = demo.documents["export"]
    delivery = document["delivery"]
    files = exported(settings, demo, "export")
    data = files[delivery["zip"]["path"]]
    assert hashlib.sha256(data).hexdigest() == delivery["zip"]["sha256"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        assert names == {"manifest.json"} | {entry["path"] for entry in manifest["files"]}
        assert archive.read("index.html") == files[document["index"]["path"]]
    answer = requests.get(delivery["url"], timeout=30)
    assert answer.status_code == 200
    assert answer.content == data
    assert "sp=r&" in delivery["url"] or delivery["url"].endswith("sp=r")
    refused = requests.put(delivery["url"], data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=30)
    assert refused.status_code == 403  # read only
    tampered = delivery["url"].replace("sp=r", "sp=rw")
    assert requests.get(tampered, timeout=30).status_code == 403
    other = delivery["url"].replace(delivery["zip"]["path"].rsplit("/", 1)[1], "other.zip")
    assert requests.get(other, timeout=30).status_code == 403  # for this one blob only


def test_delivery_link_expires(settings, demo):
    from datetime import UTC, datetime, timedelta

    from dsr.config import DEFAULT_DELIVERY_LINK_MINUTES
    from dsr.package.delivery import read_only_link

    document = demo.documents["export"]
    completed = datetime.strptime(document["completedAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    expires = datetime.strptime(document["delivery"]["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(0) < expires - completed <= timedelta(minutes=DEFAULT_DELIVERY_LINK_MINUTES + 1)
    path = document["delivery"]["zip"]["path"]
    issued_long_ago = datetime.now(UTC) - timedelta(minutes=DEFAULT_DELIVERY_LINK_MINUTES + 10)
    expired, _ = read_only_link(demo.runtime.settings, path, issued_long_ago)
    assert requests.get(expired, timeout=30).status_code == 403
    fresh, _ = read_only_link(demo.runtime.settings, path, datetime.now(UTC))
    assert requests.get(fresh, timeout=30).status_code == 200
