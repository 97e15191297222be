"""Through the HTTP API and the Durable host: the zip flag reaches the status document as a working
read-only link, and a dry run's status document points to its erasure preview."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
import requests

pytestmark = [pytest.mark.services, pytest.mark.slow]

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text())


def test_export_with_zip_links_to_the_package(stack, host):
    body = stack.body("export", operation="export", categories=["projects", "tags", "images"], zip=True)
    assert host.submit(body).status_code == 202
    finished = host.wait(body["requestId"])
    document = finished.json()
    assert finished.status_code == 200, document
    jsonschema.validate(document, SCHEMA)
    assert document["request"]["zip"] is True
    assert {p["name"] for p in document["projects"]} == {
        p.name for p in stack.account("export").projects.values()
    }
    folder = stack.folder(body["requestId"])
    assert folder.read(document["index"]["path"]).startswith(b"<!doctype html>")
    answer = requests.get(document["delivery"]["url"], timeout=30)
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == document["delivery"]["zip"]["sha256"]


def test_refused_zip_flag_names_the_field(stack, host):
    answer = host.submit(stack.body("export", operation="export", zip="true"))
    assert answer.status_code == 400
    assert "zip" in answer.text


def test_dry_run_points_to_its_erasure_preview(stack, host):
    body = stack.body("dry-run", operation="delete", dryRun=True)
    assert host.submit(body).status_code == 202
    finished = host.wait(body["requestId"])
    document = finished.json()
    assert finished.status_code == 200, document
    jsonschema.validate(document, SCHEMA)
    assert document["receipt"]["preview"] is True
    folder = stack.records(body["requestId"])  # the certificate sits beside the sealed receipts
    facts = folder.read(document["receipt"]["json"]["path"])
    assert hashlib.sha256(facts).hexdigest() == document["receipt"]["json"]["sha256"]
    page = folder.read(document["receipt"]["html"]["path"]).decode()
    assert "Erasure preview (dry run)" in page
    assert document["receipt"]["json"]["sha256"] in page
    for receipt in json.loads(facts)["receiptFiles"]:
        assert receipt["sha256"] in page
