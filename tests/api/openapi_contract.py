"""The checked-in OpenAPI 2.0 document as a test oracle: the app's routes, and live answers checked
against the response schemas it declares."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "triggers" / "openapi.json"
_PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")
_END_ANCHOR = re.compile(r"(?<!\\)\$")


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


def app_routes() -> set[tuple[str, str]]:
    """(METHOD, /path) of every HTTP function the function app registers."""
    from function_app import app

    routes = set()
    for function in app.get_functions():
        trigger = function.get_trigger()
        if trigger.get_binding_name() != "httpTrigger":
            continue
        path = "/" + _PARAM.sub(lambda m: "{" + m.group(1) + "}", trigger.route)
        for method in trigger.methods:
            routes.add((str(getattr(method, "value", method)).upper(), path))
    return routes


def documented_routes() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document()["paths"].items() for method in item}


def _json_schema(node: Any) -> Any:
    """Swagger 2.0 schema -> JSON Schema: ``x-nullable`` becomes a null alternative, patterns are
    read as ECMA 262 reads them."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _json_schema(v) for k, v in node.items() if not k.startswith("x-")}
    if isinstance(converted.get("pattern"), str):
        converted["pattern"] = ecma_pattern(converted["pattern"])
    if node.get("x-nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def ecma_pattern(pattern: str) -> str:
    """A document pattern as Python must read it to match what ECMA 262 (connectors) matches: there,
    ``$`` is the end of the text; in Python it also matches before a final newline."""
    return _END_ANCHOR.sub(r"\\Z", pattern)


def definition_validator(name: str) -> jsonschema.Draft4Validator:
    """A validator for ``#/definitions/<name>``, as a connector built from the document checks a body.

    No format checker: ``format`` is a hint many clients ignore, so every rule must be a keyword.
    """
    definitions = _json_schema(document()["definitions"])
    return jsonschema.Draft4Validator({"$ref": f"#/definitions/{name}", "definitions": definitions})


def document_accepts(name: str, body: Any) -> bool:
    return definition_validator(name).is_valid(body)


def operation(operation_id: str) -> dict[str, Any]:
    for item in document()["paths"].values():
        for op in item.values():
            if op["operationId"] == operation_id:
                return dict(op)
    raise AssertionError(f"no operation {operation_id}")


def query_accepts(operation_id: str, params: dict[str, str]) -> bool:
    """Whether the query parameters fit the operation's declared ones (a whole number for an integer)."""
    declared = {p["name"]: p for p in operation(operation_id)["parameters"] if p["in"] == "query"}
    for name, raw in params.items():
        if name not in declared:
            return False
        parameter = {k: v for k, v in declared[name].items() if k not in ("name", "in", "required")}
        value: Any = raw
        if parameter.get("type") == "integer":
            if not re.fullmatch(r"-?[0-9]+", raw):
                return False
            value = int(raw)
        if not jsonschema.Draft4Validator(_json_schema(parameter)).is_valid(value):
            return False
    return True


def _template(path: str) -> str:
    for template in document()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"{path} is not in the OpenAPI document")


def check_answer(method: str, path: str, status: int, body: Any, headers: dict[str, str]) -> None:
    """Fail unless the document declares this status for the operation and the body fits its schema."""
    operation = document()["paths"][_template(path)][method.lower()]
    declared = operation["responses"]
    assert str(status) in declared, f"{method} {path} answered {status}, not declared: {sorted(declared)}"
    response = declared[str(status)]
    for name in response.get("headers", {}):
        assert name in headers, f"{method} {path} {status}: header {name} missing"
    if "schema" in response:
        schema = {**_json_schema(response["schema"]), "definitions": _json_schema(document()["definitions"])}
        # Service errors may answer 500 in the Error shape where a status document is declared.
        if status == 500 and isinstance(body, dict) and set(body) == {"error"}:
            schema = {"$ref": "#/definitions/Error", "definitions": schema["definitions"]}
        jsonschema.Draft4Validator(schema).validate(body)


def check_response(response: Any) -> None:
    """``check_answer`` for a ``requests.Response`` from the app."""
    request = response.request
    path = re.sub(r"^/api", "", request.path_url.split("?")[0])
    body = response.json() if response.content else None
    check_answer(request.method, path, response.status_code, body, dict(response.headers))
