"""Fixtures for this folder; also makes the repo root importable when pytest runs from the venv script."""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# `.venv/bin/pytest` does not put the working directory on sys.path (pyproject sets no pythonpath).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import jsonschema  # noqa: E402
import pytest  # noqa: E402

from emulator import EmulatorServer, SeedSpec, build_state  # noqa: E402

# CI checks out shared/ beside the clone; the spec files are read there and never copied into the repo.
SPEC_DIR = REPO_ROOT.parent / "shared" / "reference" / "customvision-spec"
ADMIN_TOKEN = "test-admin-" + secrets.token_hex(8)
SPEC = SeedSpec(accounts=2, projects_per_account=2, images_per_project=40, predictions_per_project=30)


def _swagger_to_json_schema(node: Any) -> Any:
    """Swagger 2.0 schema -> JSON Schema draft 4: ``x-nullable: true`` admits null, and objects with
    declared properties admit no others, so an emulator field the spec does not define fails."""
    if isinstance(node, list):
        return [_swagger_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: _swagger_to_json_schema(value)
        for key, value in node.items()
        if not key.startswith("x-") and key not in {"readOnly", "example", "discriminator"}
    }
    if "properties" in out:
        out.setdefault("additionalProperties", False)
    if node.get("x-nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@_FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or bool(datetime.fromisoformat(value.replace("Z", "+00:00")))


class SpecValidator:
    """Validates response bodies against the official OpenAPI document of one API version."""

    def __init__(self, path: Path) -> None:
        self.document = json.loads(path.read_text(encoding="utf-8"))
        self.definitions = {
            name: _swagger_to_json_schema(schema) for name, schema in self.document["definitions"].items()
        }
        self.operations: dict[str, dict[str, Any]] = {}
        for item in self.document["paths"].values():
            for _method, operation in item.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    self.operations[operation["operationId"]] = operation
        self.checked: list[tuple[str, int]] = []

    def schema_for(self, operation_id: str, status: int) -> dict[str, Any] | None:
        responses = self.operations[operation_id]["responses"]
        response = responses.get(str(status)) or (responses["default"] if status >= 400 else None)
        assert response is not None, f"{operation_id} does not document status {status}"
        return response.get("schema")

    def check(self, operation_id: str, status: int, body: bytes) -> Any:
        schema = self.schema_for(operation_id, status)
        if schema is None:
            assert body == b"", f"{operation_id} {status} must have no body"
            self.checked.append((operation_id, status))
            return None
        payload = json.loads(body)
        root = {**_swagger_to_json_schema(schema), "definitions": self.definitions}
        jsonschema.Draft4Validator(root, format_checker=_FORMATS).validate(payload)
        self.checked.append((operation_id, status))
        return payload


@pytest.fixture(scope="session")
def spec_v34() -> SpecValidator:
    return SpecValidator(SPEC_DIR / "v3.4-preview-Training.json")


@pytest.fixture(scope="session")
def spec_v33() -> SpecValidator:
    return SpecValidator(SPEC_DIR / "v3.3-Training.json")


@pytest.fixture
def keys():
    return {"account-1": secrets.token_hex(16), "account-2": secrets.token_hex(16)}


@pytest.fixture
def state(keys):
    return build_state(SPEC, keys)


@pytest.fixture
def server(state):
    with EmulatorServer(state, admin_token=ADMIN_TOKEN) as running:
        yield running


@pytest.fixture
def admin_token() -> str:
    return ADMIN_TOKEN
