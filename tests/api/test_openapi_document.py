"""The connector document: valid OpenAPI 2.0, exactly the app's routes, what Logic Apps needs, and
never looser than the app's own validation of bodies, query parameters and ids."""

from __future__ import annotations

import json
import re
from typing import Any

import azure.functions as func
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from dsr.cancellation import MAX_CANCEL_REASON_LENGTH, MAX_CANCELED_BY_LENGTH
from dsr.contract import REQUEST_ID_PATTERN, _Request, instance_id_for, parse_request
from dsr.errors import ConfigurationError, InvalidRequestError
from dsr.storage import StorageUnavailableError
from dsr.untrusted_json import is_plain_text, parse_untrusted
from tests.api.openapi_contract import (
    app_routes,
    check_answer,
    document,
    document_accepts,
    documented_routes,
    ecma_pattern,
    query_accepts,
)
from tests.app.bad_inputs import CATALOGUE, ENDPOINT, PERSONAL, PROJECT, valid_body
from triggers.approval import parse_decision
from triggers.http_api import _json_object, _list_query, _optional_text
from triggers.responses import error_response

ASYNC_OPERATIONS = {"SubmitRequest", "ApproveRequest", "RetryRequest"}


def test_document_is_valid_openapi_2():
    assert document()["swagger"] == "2.0"
    validate(document())


def test_validator_does_reject_a_broken_document():
    broken = {**document(), "paths": {"/requests": {"post": {"responses": {"202": {}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_route_is_documented_and_nothing_else():
    routes = app_routes()
    assert ("POST", "/requests") in routes  # the registrations were read
    assert routes == documented_routes()


def test_function_key_security_in_header_or_query():
    definitions = document()["securityDefinitions"]
    assert {(d["in"], d["name"]) for d in definitions.values()} == {
        ("header", "x-functions-key"),
        ("query", "code"),
    }
    assert document()["security"] == [{name: []} for name in definitions]
    # No operation opts out: every route, the description too, takes the function key.
    assert not [op for item in document()["paths"].values() for op in item.values() if "security" in op]


def test_async_operations_are_marked_for_polling_location():
    operations = {op["operationId"]: op for item in document()["paths"].values() for op in item.values()}
    for name in ASYNC_OPERATIONS:
        operation = operations[name]
        assert operation["x-ms-long-running-operation"] is True
        assert operation["x-ms-long-running-operation-options"] == {"final-state-via": "location"}
        assert {"Location", "Retry-After"} <= set(operation["responses"]["202"]["headers"])
    polled = operations["GetRequest"]["responses"]
    assert {"200", "202", "404", "409", "500"} <= set(polled)
    assert not {n for n, op in operations.items() if op.get("x-ms-long-running-operation")} - ASYNC_OPERATIONS


def test_answer_checks_can_fail():
    with pytest.raises(AssertionError, match="not declared"):
        check_answer("GET", "/requests/r1", 418, {}, {})
    with pytest.raises(Exception, match="requestId"):
        check_answer("POST", "/requests", 202, {"created": True}, {"Location": "x", "Retry-After": "1"})


# --- The document is never looser than the app's validation -----------------------------------------
# A connector built from the document checks a body against it before sending; every body it lets
# through that the app then refuses is a failed flow run. So: every body the app refuses, the document
# refuses too (but for rules Swagger 2.0 cannot state, each listed with why), and every body it
# accepts at the limits, the app accepts.

BEYOND_SWAGGER_2 = {
    **{
        case.name: "metadata keys: Swagger 2.0 has no patternProperties or propertyNames"
        for case in CATALOGUE
        if case.name.startswith("metadata-key-")
    },
    "dryRun-on-export": "a rule across fields (dryRun with operation): no if/then or oneOf in Swagger 2.0",
    "zip-on-delete": "a rule across fields (zip with operation)",
    "subject-delete-of-projects": "a rule across fields (categories with subject and operation)",
    "predictions-reversed": "a rule across fields (from before to)",
    "predictions-equal": "a rule across fields (from before to)",
    "projectIds-duplicate-case": "uniqueItems compares strings, the app compares UUIDs",
    "predictions-from-after-year-9999-in-utc": "an offset that moves the moment past year 9999 in UTC",
    "from-before-1970-in-utc": "an offset that moves the moment before 1970 in UTC",
    "from-april-31": "a day past its month's end: format date-time says so, no pattern does",
}


def _refused_by_the_app(body: object) -> bool:
    try:
        parse_request(body)
    except InvalidRequestError:
        return True
    return False


def _long_endpoint(length: int) -> str:
    """A valid endpoint of exactly ``length`` characters (labels of at most 63)."""
    suffix = ".cognitiveservices.azure.com"
    room = length - len("https://") - len(suffix)
    labels = []
    while room > 63:
        labels.append("a" * 62)
        room -= 63
    labels.append("a" * room)
    return f"https://{'.'.join(labels)}{suffix}"


def _subject(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"subjectId": PERSONAL}, **fields}


EXTRA_REFUSED = {
    "requestId-reserved-intake": valid_body(requestId="intake"),
    "requestId-reserved-chains": valid_body(requestId="chains"),
    "zip-on-delete": valid_body(operation="delete", zip=True),
    "endpoint-too-long": valid_body(account={"endpoint": _long_endpoint(257), "trainingKeySecret": "k"}),
    "endpoint-label-too-long": valid_body(
        account={"endpoint": "https://" + "a" * 64 + ".cognitiveservices.azure.com", "trainingKeySecret": "k"}
    ),
    "endpoint-label-dash-end": valid_body(
        account={"endpoint": "https://west-.cognitiveservices.azure.com", "trainingKeySecret": "k"}
    ),
    "endpoint-port-65536": valid_body(
        account={"endpoint": "https://west.cognitiveservices.azure.com:65536", "trainingKeySecret": "k"}
    ),
    "projectIds-duplicate-exact": valid_body(projectIds=[PROJECT, PROJECT]),
    "projectIds-braced": valid_body(projectIds=["{" + PROJECT]),
    "metadata-value-bidi": valid_body(subject={"metadata": {"k": "abc\u202e"}}),
    "metadata-value-line-separator": valid_body(subject={"metadata": {"k": "a\u2028b"}}),
    "metadata-value-nbsp": valid_body(subject={"metadata": {"k": "a\u00a0b"}}),
    "application-bidi": valid_body(subject=_subject(predictions={"application": "\u202ekiosk"})),
    "application-tab": valid_body(subject=_subject(predictions={"application": "a\tb"})),
    "from-leap-second": valid_body(subject=_subject(predictions={"from": "2026-12-31T23:59:60Z"})),
    "from-hour-24": valid_body(subject=_subject(predictions={"from": "2026-01-01T24:00:00Z"})),
    "from-offset-24": valid_body(subject=_subject(predictions={"from": "2026-01-01T00:00:00+24:00"})),
    "from-fraction-10-digits": valid_body(
        subject=_subject(predictions={"from": "2026-01-01T00:00:00.0000000000Z"})
    ),
    "from-before-1970-in-utc": valid_body(
        subject=_subject(predictions={"from": "1970-01-01T00:30:00+01:00"})
    ),
    "from-april-31": valid_body(subject=_subject(predictions={"from": "2026-04-31T00:00:00Z"})),
    "from-before-1970": valid_body(subject=_subject(predictions={"from": "1969-12-31T23:59:59Z"})),
    "from-ten-digit-year": valid_body(subject=_subject(predictions={"from": "12026-01-01T00:00:00Z"})),
    "from-unicode-digits": valid_body(subject=_subject(predictions={"from": "\u0662026-01-01T00:00:00Z"})),
    "callback-no-host": valid_body(callbackUrl="https:///hook"),
    "callback-port-only": valid_body(callbackUrl="https://:443/hook"),
    "callback-empty-fragment": valid_body(callbackUrl="https://hooks.example/x#"),
    "callback-bidi": valid_body(callbackUrl="https://hooks.example/\u202ex"),
    "callback-at-host": valid_body(callbackUrl="https://hooks.example@evil.example/x"),
    "callback-broken-ipv6": valid_body(callbackUrl="https://[::1/x"),
    "extension-reason-too-long": valid_body(extension={"months": 1, "reason": "r" * 501}),
    "extension-months-3": valid_body(extension={"months": 3, "reason": "r"}),
    "callsPerSecond-above": valid_body(
        account={"endpoint": ENDPOINT, "trainingKeySecret": "k", "callsPerSecond": 1000.5}
    ),
}

ACCEPTED = {
    "minimal": valid_body(),
    "id-at-its-longest": valid_body(requestId="A" + "b.-_" * 15 + "abc"),
    "id-like-a-reserved-one": valid_body(requestId="intake2"),
    "endpoint-at-its-longest": valid_body(
        account={"endpoint": _long_endpoint(256), "trainingKeySecret": "k"}
    ),
    "endpoint-spelled-loudly": valid_body(
        account={"endpoint": "HTTPS://West.CognitiveServices.Azure.com/", "trainingKeySecret": "k"}
    ),
    "endpoint-with-port": valid_body(
        account={"endpoint": "https://west.cognitiveservices.azure.com:65535", "trainingKeySecret": "k"}
    ),
    "endpoint-local": valid_body(account={"endpoint": "http://127.0.0.1:8443", "trainingKeySecret": "k"}),
    "endpoint-empty-port": valid_body(
        account={"endpoint": "https://west.cognitiveservices.azure.com:/", "trainingKeySecret": "k"}
    ),
    "budget-at-its-limits": valid_body(
        account={"endpoint": ENDPOINT, "trainingKeySecret": "k" * 127, "callsPerSecond": 0.1}
    ),
    "budget-whole": valid_body(
        account={"endpoint": ENDPOINT, "trainingKeySecret": "k", "callsPerSecond": 1000}
    ),
    "every-category": valid_body(
        categories=[
            "accountInfo",
            "iterationDetails",
            "iterationPerformance",
            "iterationList",
            "projects",
            "tags",
            "images",
            "exportedModels",
            "predictions",
        ]
    ),
    "projects-at-most": valid_body(projectIds=[f"{i:08X}-1b2a-4c3d-8e9f-001122334455" for i in range(100)]),
    "metadata-at-most": valid_body(
        subject={
            "metadata": {f"k_{i}": ("v" * 511 + "é") if i == 0 else "😀 'x' or \"y\"" for i in range(10)}
        }
    ),
    "subject-delete": valid_body(
        operation="delete",
        dryRun=True,
        categories=["images", "predictions"],
        subject=_subject(predictions={"application": "a" * 255 + "ü"}),
    ),
    "window-at-its-ends": valid_body(
        subject=_subject(predictions={"from": "1970-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"})
    ),
    "window-spelled-variously": valid_body(
        subject=_subject(
            predictions={"from": "2026-01-01t00:00:00.000000000z", "to": "2026-01-02T00:00:00.0+23:59"}
        )
    ),
    "window-open-end": valid_body(subject=_subject(predictions={"to": "2026-06-30T12:00:00-00:00"})),
    "zip-with-callback": valid_body(
        zip=True,
        callbackUrl="https://hooks.example/x?sig=" + "s" * (2048 - len("https://hooks.example/x?sig=")),
    ),
    "callback-variants": valid_body(callbackUrl="HTTP://localhost:7071"),
    "callback-query-only": valid_body(callbackUrl="https://hooks.example?x=1&y=a b"),
    "extension-at-most": valid_body(extension={"months": 2, "reason": "r" * 500}),
}


def test_the_probes_are_what_the_app_says_they_are():
    assert (len(_long_endpoint(256)), len(_long_endpoint(257))) == (256, 257)
    assert [name for name, body in EXTRA_REFUSED.items() if not _refused_by_the_app(body)] == []
    assert [name for name, body in ACCEPTED.items() if _refused_by_the_app(body)] == []


def test_every_body_the_app_refuses_the_document_refuses():
    bodies = {name: body for name, body in EXTRA_REFUSED.items()}
    for case in CATALOGUE:
        try:
            bodies[case.name] = parse_untrusted(case.raw)
        except InvalidRequestError:
            continue  # refused before any schema applies: not JSON, too large, too deep, a repeated key
    assert set(BEYOND_SWAGGER_2) <= set(bodies)
    let_through = sorted(
        name
        for name, body in bodies.items()
        if name not in BEYOND_SWAGGER_2 and document_accepts("SubmitRequest", body)
    )
    assert let_through == []
    # An exemption the document now covers is one to drop.
    assert sorted(n for n in BEYOND_SWAGGER_2 if not document_accepts("SubmitRequest", bodies[n])) == []


def test_every_body_at_the_documented_limits_is_accepted_by_both():
    assert (
        sorted(name for name, body in ACCEPTED.items() if not document_accepts("SubmitRequest", body)) == []
    )


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A pydantic schema node without its ``$ref`` and its null alternative (null means absent)."""
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    alternatives = [n for n in node.get("anyOf", []) if n != {"type": "null"}]
    if len(alternatives) == 1:
        return _resolve(alternatives[0], defs)
    return node


def _looser(code: dict[str, Any], doc: dict[str, Any], defs: dict[str, Any], at: str) -> list[str]:
    """Where the document's schema is looser than the model's own (pydantic's JSON Schema)."""
    code = _resolve(code, defs)
    problems = []
    for key in ("type", "format"):
        if key in code and doc.get(key) != code[key]:
            problems.append(f"{at}: {key} {doc.get(key)!r}, the app's {code[key]!r}")
    if "enum" in code and not (doc.get("enum") and set(doc["enum"]) <= set(code["enum"])):
        problems.append(f"{at}: enum {doc.get('enum')}, the app's {code['enum']}")
    for key in ("minLength", "minItems", "minimum", "minProperties"):
        if key in code and not doc.get(key, float("-inf")) >= code[key]:
            problems.append(f"{at}: {key} {doc.get(key)}, the app's {code[key]}")
    for key in ("maxLength", "maxItems", "maximum", "maxProperties"):
        if key in code and not doc.get(key, float("inf")) <= code[key]:
            problems.append(f"{at}: {key} {doc.get(key)}, the app's {code[key]}")
    if not set(code.get("required", ())) <= set(doc.get("required", ())):
        problems.append(f"{at}: required {doc.get('required')}, the app's {code['required']}")
    if code.get("additionalProperties") is False and doc.get("additionalProperties") is not False:
        problems.append(f"{at}: additionalProperties not false")
    if isinstance(code.get("additionalProperties"), dict):
        problems += _looser(
            code["additionalProperties"], doc.get("additionalProperties", {}), defs, f"{at}.*"
        )
    if "properties" in code:
        if set(code["properties"]) != set(doc.get("properties", {})):
            documented = sorted(doc.get("properties", {}))
            problems.append(f"{at}: properties {documented}, the app's {sorted(code['properties'])}")
        for name, sub in code["properties"].items():
            problems += _looser(sub, doc.get("properties", {}).get(name, {}), defs, f"{at}.{name}")
    if "items" in code:
        problems += _looser(code["items"], doc.get("items", {}), defs, f"{at}[]")
    return problems


def test_each_limit_of_the_request_model_is_declared():
    schema = _Request.model_json_schema(by_alias=True)
    assert _looser(schema, document()["definitions"]["SubmitRequest"], schema["$defs"], "SubmitRequest") == []


def _approval_accepted(body: dict[str, Any]) -> bool:
    """What ``POST .../approve`` does with its body before it looks the request up."""
    request = func.HttpRequest("POST", "http://host/api/requests/r1/approve", body=json.dumps(body).encode())
    try:
        parse_decision(_json_object(request, {"by", "decision", "comment"}), None)
    except InvalidRequestError:
        return False
    return True


def _cancel_accepted(body: dict[str, Any]) -> bool:
    """What ``POST .../cancel`` does with its body before it looks the request up."""
    request = func.HttpRequest("POST", "http://host/api/requests/r1/cancel", body=json.dumps(body).encode())
    try:
        read = _json_object(request, {"by", "reason"}, optional=True)
        _optional_text(read, "by", MAX_CANCELED_BY_LENGTH)
        _optional_text(read, "reason", MAX_CANCEL_REASON_LENGTH, lines=True)
    except InvalidRequestError:
        return False
    return True


def _query_accepted(params: dict[str, str]) -> bool:
    try:
        _list_query(func.HttpRequest("GET", "http://host/api/requests", params=params, body=b""))
    except InvalidRequestError:
        return False
    return True


APPROVALS_REFUSED: list[dict[str, Any]] = [
    {"decision": "approve"},
    {"by": "dpo"},
    {"by": "", "decision": "approve"},
    {"by": "   ", "decision": "approve"},
    {"by": "a" * 129, "decision": "approve"},
    {"by": " " * 300 + "x", "decision": "approve"},
    {"by": "a\nFORGED", "decision": "approve"},
    {"by": "a\u0000", "decision": "approve"},
    {"by": "dpo\u202e", "decision": "approve"},
    {"by": True, "decision": "approve"},
    {"by": "dpo", "decision": "Approve"},
    {"by": "dpo", "decision": True},
    {"by": "dpo", "decision": "approve", "comment": "\u202etxet"},
    {"by": "dpo", "decision": "approve", "comment": "a\u0007"},
    {"by": "dpo", "decision": "approve", "comment": "c" * 1001},
    {"by": "dpo", "decision": "approve", "comment": 5},
    {"by": "dpo", "decision": "approve", "at": "now"},
]
APPROVALS_ACCEPTED: list[dict[str, Any]] = [
    {"by": "dpo", "decision": "approve"},
    {"by": " d p o ", "decision": "reject", "comment": "wrong subject\r\n\tsee ticket"},
    {"by": "a" * 128, "decision": "approve", "comment": "c" * 1000},
    {"by": "Zoë 😀", "decision": "approve", "comment": ""},
]
CANCELS_REFUSED: list[dict[str, Any]] = [
    {"by": "a" * 129},
    {"by": "ops\n"},
    {"by": "ops\u202e"},
    {"by": 1},
    {"reason": "r" * 1001},
    {"reason": "a\u0000"},
    {"reason": "a\u2028b"},
    {"reason": 3},
    {"why": "x"},
]
CANCELS_ACCEPTED: list[dict[str, Any]] = [
    {},
    {"by": "   "},
    {"by": "b" * 128, "reason": "r" * 1000},
    {"by": "ops", "reason": "duplicate\r\nsee\tticket 9"},
]
QUERIES_REFUSED = [
    {"state": "done"},
    {"state": "Running"},
    {"operation": "erase"},
    {"pageSize": "0"},
    {"pageSize": "101"},
    {"pageSize": "1.5"},
    {"pageSize": "-1"},
    {"continuationToken": "t" * 2049},
    {"continuationToken": "a\nb"},
    {"continuationToken": "a\u202eb"},
    {"page": "2"},
]
QUERIES_ACCEPTED = [
    {},
    {"state": "awaiting_approval", "operation": "delete", "pageSize": "100", "continuationToken": "t" * 2048},
    {"pageSize": "1"},
]


def test_the_other_probes_are_what_the_app_says_they_are():
    assert [b for b in APPROVALS_REFUSED if _approval_accepted(b)] == []
    assert [b for b in APPROVALS_ACCEPTED if not _approval_accepted(b)] == []
    assert [b for b in CANCELS_REFUSED if _cancel_accepted(b)] == []
    assert [b for b in CANCELS_ACCEPTED if not _cancel_accepted(b)] == []
    assert [q for q in QUERIES_REFUSED if _query_accepted(q)] == []
    assert [q for q in QUERIES_ACCEPTED if not _query_accepted(q)] == []


def test_decisions_cancels_and_list_queries_the_app_refuses_the_document_refuses():
    assert [b for b in APPROVALS_REFUSED if document_accepts("ApprovalDecision", b)] == []
    assert [b for b in CANCELS_REFUSED if document_accepts("CancelRequest", b)] == []
    assert [q for q in QUERIES_REFUSED if query_accepts("ListRequests", q)] == []


def test_decisions_cancels_and_list_queries_at_the_limits_are_accepted_by_both():
    assert [b for b in APPROVALS_ACCEPTED if not document_accepts("ApprovalDecision", b)] == []
    assert [b for b in CANCELS_ACCEPTED if not document_accepts("CancelRequest", b)] == []
    assert [q for q in QUERIES_ACCEPTED if not query_accepts("ListRequests", q)] == []


def _patterns(node: Any) -> list[str]:
    if isinstance(node, list):
        return [p for n in node for p in _patterns(n)]
    if not isinstance(node, dict):
        return []
    own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
    return own + [p for v in node.values() for p in _patterns(v)]


def test_patterns_are_anchored_and_read_alike_by_ecma_and_python():
    patterns = _patterns(document())
    assert len(patterns) >= 10
    for pattern in patterns:
        # A JSON Schema pattern searches: anchored at both ends, it matches the whole value.
        assert pattern.startswith("^"), pattern
        assert pattern.endswith("$"), pattern
        # Unicode classes in Python, ASCII in ECMA 262: spell the characters out instead.
        assert not re.search(r"\\[dDwWsSbB]", pattern), pattern
        re.compile(pattern)


def _text_pattern(*path: str) -> str:
    node: Any = document()
    for key in path:
        node = node[key]
    return str(node["pattern"])


def test_the_text_patterns_refuse_only_what_the_app_refuses():
    text = _text_pattern(
        "definitions",
        "SubmitRequest",
        "properties",
        "subject",
        "properties",
        "metadata",
        "additionalProperties",
    )
    lines = _text_pattern("definitions", "CancelRequest", "properties", "reason")
    one_line = [
        (
            "definitions",
            "SubmitRequest",
            "properties",
            "subject",
            "properties",
            "predictions",
            "properties",
            "application",
        ),
        ("definitions", "CancelRequest", "properties", "by"),
    ]
    assert {_text_pattern(*path) for path in one_line} == {text}
    assert _text_pattern("definitions", "ApprovalDecision", "properties", "comment") == lines
    text_re, lines_re = re.compile(ecma_pattern(text)), re.compile(ecma_pattern(lines))
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # halves of a pair in ECMA 262 (no u flag): the document cannot refuse them alone
        ch = chr(code)
        if not text_re.fullmatch(ch):
            assert not is_plain_text(ch), f"U+{code:04X}"
        if not lines_re.fullmatch(ch):
            assert not is_plain_text(ch, lines=True), f"U+{code:04X}"
    for ch in "\u0000\t\n\r\u007f\u0085\u00a0\u200b\u200e\u2028\u2029\u202a\u202e\u2066\u2069\ufeff\ue000":
        assert not text_re.fullmatch(ch), f"U+{ord(ch):04X}"
    for ch in "\t\n\r":
        assert lines_re.fullmatch(ch)


def test_path_ids_are_declared_as_the_app_reads_them():
    for path, item in document()["paths"].items():
        for op in item.values():
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path":
                    assert parameter["pattern"] == f"^{REQUEST_ID_PATTERN.pattern}$", path


ERROR_ROUTES = sorted(r for r in documented_routes() if r != ("GET", "/openapi.json"))
ID_ROUTES = [r for r in ERROR_ROUTES if "{requestId}" in r[1]]


@pytest.mark.parametrize(("method", "template"), ID_ROUTES)
def test_an_id_outside_the_pattern_is_a_declared_400(method, template):
    # Every route with an id reads the request through instance_id_for, which refuses it first.
    bad_id = "not an id"
    with pytest.raises(InvalidRequestError) as refused:
        instance_id_for(bad_id)
    answer = error_response(refused.value)
    assert answer.status_code == 400
    check_answer(method, template.replace("{requestId}", bad_id), 400, json.loads(answer.get_body()), {})


@pytest.mark.parametrize(("method", "template"), ERROR_ROUTES)
@pytest.mark.parametrize(
    "error",
    [StorageUnavailableError("could not read x"), ConfigurationError("x"), RuntimeError("x")],
    ids=type,
)
def test_every_error_the_routes_can_answer_is_declared(method, template, error):
    # Every route reads Blob Storage and answers its failures through error_response.
    answer = error_response(error)
    check_answer(
        method, template.replace("{requestId}", "r1"), answer.status_code, json.loads(answer.get_body()), {}
    )
