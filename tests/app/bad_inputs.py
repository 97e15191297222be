"""The bad-input catalogue: request bodies that must be refused, each with the exact 400 it deserves.

Shared by the parser tests (``tests/app/test_bad_inputs.py``), the HTTP and queue end-to-end tests
(``tests/e2e/test_bad_inputs.py``) and the reliability soak. Every case is the raw bytes a caller sends,
the field the refusal must name, and the start of its message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ENDPOINT = "https://west.cognitiveservices.azure.com"
PROJECT = "0f4c3d2e-1b2a-4c3d-8e9f-001122334455"
PERSONAL = "jane.doe@example.com"
"""Placed in many cases' values: no refusal may echo it."""


@dataclass(frozen=True)
class BadInput:
    name: str
    raw: bytes
    field: str
    message: str
    """The refusal's message starts with this."""


def valid_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "requestId": "catalogue-1",
        "operation": "export",
        "account": {"endpoint": ENDPOINT, "trainingKeySecret": "cv-key"},
    }
    body.update(overrides)
    return body


def _case(name: str, body: Any, field: str, message: str) -> BadInput:
    return BadInput(name, json.dumps(body).encode(), field, message)


NOT_BOOLEAN = "Input should be a valid boolean"
NOT_STRING = "Input should be a valid string"
NOT_LIST = "Input should be a valid array"
NOT_OBJECT = "Input should be an object"
BAD_ENDPOINT = "must be a bare https:// origin"
NOT_UUID = "must be a UUID string (8-4-4-4-12 hexadecimal digits)"
BAD_TIME = "must be an RFC 3339 date-time with a time zone"
TIME_RANGE = "must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
WHOLE_SECOND = "must name a whole second"
BAD_KEY = "keys must be identifiers"
BAD_VALUE = "values must be printable text"
BAD_REASON = "must be printable text"

# Wrong JSON types for a field, with pydantic's own (value-free) message for each expected type.
_WRONG_FOR_BOOLEAN = ["no", "yes", "true", "false", "1", "0", 1, 0, 0.0, None, [], {}, [True]]
_WRONG_FOR_STRING = [1, 0, 1.5, True, False, [], {}, ["x"], {"x": 1}]
_WRONG_FOR_LIST = ["images", 1, True, {}, {"0": "images"}]


def _structural() -> list[BadInput]:
    deep = b"[" * 20_000 + b"]" * 20_000
    return [
        BadInput("deep-array-nesting", deep, "body", "must not nest arrays or objects more than"),
        BadInput("deep-unclosed-nesting", b"[" * 20_000, "body", "must not nest arrays or objects more than"),
        BadInput("deep-object-nesting", b'{"a":' * 40 + b"1" + b"}" * 40, "body", "must not nest"),
        BadInput("too-large", b'{"x":"' + b"a" * (70 * 1024) + b'"}', "body", "must be at most"),
        BadInput("empty", b"", "body", "must be valid JSON"),
        BadInput("truncated", b'{"operation": "export"', "body", "must be valid JSON"),
        BadInput("trailing-garbage", json.dumps(valid_body()).encode() + b"x", "body", "must be valid JSON"),
        BadInput("not-utf8", b'{"operation": "\xff"}', "body", "must be UTF-8 encoded JSON"),
        BadInput("nan", b'{"operation": NaN}', "body", "must be standard JSON"),
        BadInput("infinity", b'{"operation": -Infinity}', "body", "must be standard JSON"),
        BadInput(
            "duplicate-operation",
            b'{"operation":"delete","operation":"export","account":{"endpoint":"'
            + ENDPOINT.encode()
            + b'","trainingKeySecret":"k"}}',
            "body",
            "must not repeat a key",
        ),
        BadInput(
            "duplicate-nested-key",
            b'{"operation":"export","account":{"endpoint":"x","endpoint":"y","trainingKeySecret":"k"}}',
            "body",
            "must not repeat a key",
        ),
        BadInput(
            "duplicate-dry-run",
            b'{"operation":"delete","dryRun":true,"dryRun":false,"account":{"endpoint":"'
            + ENDPOINT.encode()
            + b'","trainingKeySecret":"k"}}',
            "body",
            "must not repeat a key",
        ),
        _case("array-body", [valid_body()], "body", "must be a JSON object"),
        _case("string-body", "export", "body", "must be a JSON object"),
        _case("number-body", 1, "body", "must be a JSON object"),
        _case("null-body", None, "body", "must be a JSON object"),
        # An escaped lone surrogate: Python reads it; the error must not describe a re-serialised body.
        BadInput(
            "lone-surrogate",
            b'{"requestId":"a\\udc00","operation":"export","account":{"endpoint":"'
            + ENDPOINT.encode()
            + b'","trainingKeySecret":"k"}}',
            "body",
            "must not hold an unpaired surrogate escape",
        ),
    ]


def _types() -> list[BadInput]:
    cases = [
        _case(f"dryRun-{json.dumps(v)}", valid_body(operation="delete", dryRun=v), "dryRun", NOT_BOOLEAN)
        for v in _WRONG_FOR_BOOLEAN
    ]
    cases += [
        _case(f"operation-{json.dumps(v)}", valid_body(operation=v), "operation", "Input should be 'export'")
        for v in [*_WRONG_FOR_STRING, "erase", "EXPORT", "Export", " export", ""]
    ]
    cases += [
        _case(f"requestId-{json.dumps(v)}", valid_body(requestId=v), "requestId", NOT_STRING)
        for v in _WRONG_FOR_STRING
    ]
    cases += [
        _case(f"categories-{json.dumps(v)}", valid_body(categories=v), "categories", NOT_LIST)
        for v in _WRONG_FOR_LIST
    ]
    cases += [
        _case(f"projectIds-{json.dumps(v)}", valid_body(projectIds=v), "projectIds", NOT_LIST)
        for v in _WRONG_FOR_LIST
    ]
    cases += [
        _case(f"account-{json.dumps(v)}", valid_body(account=v), "account", "Input should be")
        for v in ["x", 1, True, [], None]
    ]
    cases += [
        _case(
            f"endpoint-type-{json.dumps(v)}",
            valid_body(account={"endpoint": v, "trainingKeySecret": "k"}),
            "account.endpoint",
            NOT_STRING,
        )
        for v in [1, True, [], {}]
    ]
    cases += [
        _case(f"callbackUrl-{json.dumps(v)}", valid_body(callbackUrl=v), "callbackUrl", NOT_STRING)
        for v in [1, True, [], {}]
    ]
    return cases


def _values() -> list[BadInput]:
    cases = [
        _case(f"requestId-{name}", valid_body(requestId=v), "requestId", "must be 1-64 letters")
        for name, v in [
            ("empty", ""),
            ("slash", "a/b"),
            ("dotdot", "../etc"),
            ("leading-dash", "-abc"),
            ("leading-dot", ".abc"),
            ("space", "a b"),
            ("newline", "abc\n"),
            ("nul", "abc\u0000"),
            ("too-long", "a" * 65),
            ("unicode", "réquest"),
            ("hash", "a#b"),
            ("question", "a?b"),
        ]
    ]
    cases += [
        _case(
            f"endpoint-{name}",
            valid_body(account={"endpoint": v, "trainingKeySecret": "cv-key"}),
            "account.endpoint",
            BAD_ENDPOINT,
        )
        for name, v in [
            ("empty-query", "https://west.cognitiveservices.azure.com?"),
            ("empty-fragment", "https://west.cognitiveservices.azure.com#"),
            ("query", "https://west.cognitiveservices.azure.com?x=1"),
            ("path", "https://west.cognitiveservices.azure.com/customvision"),
            ("userinfo", f"https://{PERSONAL.replace('@', ':pw@')}west.cognitiveservices.azure.com"),
            ("at-sign", "https://west.cognitiveservices.azure.com@evil.example"),
            ("ftp", "ftp://west.cognitiveservices.azure.com"),
            ("no-scheme", "west.cognitiveservices.azure.com"),
            ("bad-port", "https://west.cognitiveservices.azure.com:https"),
            ("port-too-big", "https://west.cognitiveservices.azure.com:70000"),
            ("space", "https://west .cognitiveservices.azure.com"),
            ("backslash", "https://west\\.cognitiveservices.azure.com"),
            ("semicolon", "https://west.cognitiveservices.azure.com;x"),
            ("trailing-dot", "https://west.cognitiveservices.azure.com."),
            ("unicode-host", "https://wést.cognitiveservices.azure.com"),
            ("underscore-host", "https://we_st.cognitiveservices.azure.com"),
            ("double-slash-path", "https://west.cognitiveservices.azure.com//"),
            ("no-host", "https://"),
            ("newline", "https://west.cognitiveservices.azure.com\n"),
        ]
    ]
    # A budget of 5e-324 calls/s would make the rate limiter wait forever for its first call.
    cases += [
        _case(
            f"calls-per-second-{name}",
            valid_body(account={"endpoint": ENDPOINT, "trainingKeySecret": "k", "callsPerSecond": v}),
            "account.callsPerSecond",
            message,
        )
        for name, v, message in [
            ("zero", 0, "Input should be greater than or equal to 0.1"),
            ("negative", -1, "Input should be greater than or equal to 0.1"),
            ("subnormal", 5e-324, "Input should be greater than or equal to 0.1"),
            ("below-the-slowest", 0.05, "Input should be greater than or equal to 0.1"),
            ("above-any-tier", 1001, "Input should be less than or equal to 1000"),
            ("string", "10", "Input should be a valid number"),
            ("boolean", True, "Input should be a valid number"),
        ]
    ]
    cases += [
        _case(
            f"secret-{name}",
            valid_body(account={"endpoint": ENDPOINT, "trainingKeySecret": v}),
            "account.trainingKeySecret",
            "must be a Key Vault secret name",
        )
        for name, v in [
            ("underscore", "bad_name"),
            ("empty", ""),
            ("slash", "a/b"),
            ("trailing-newline", "cv-key\n"),
            ("too-long", "k" * 128),
            ("space", "cv key"),
        ]
    ]
    cases += [
        _case(f"category-{name}", valid_body(categories=v), field, message)
        for name, v, field, message in [
            ("unknown", ["faces"], "categories.0", "Input should be"),
            ("unknown-second", ["images", "faces"], "categories.1", "Input should be"),
            ("wrong-case", ["Images"], "categories.0", "Input should be"),
            ("number", [1], "categories.0", "Input should be"),
            ("empty", [], "categories", "List should have at least 1 item"),
            ("duplicate", ["images", "images"], "categories", "must not name a category twice"),
            ("duplicate-apart", ["tags", "images", "tags"], "categories", "must not name a category twice"),
        ]
    ]
    cases += [
        _case(f"projectIds-{name}", valid_body(projectIds=v), field, message)
        for name, v, field, message in [
            # Before: pydantic's message quoted a character of the input ("found `n` at 1").
            ("not-uuid", ["not-a-uuid"], "projectIds.0", NOT_UUID),
            ("personal", [PERSONAL], "projectIds.0", NOT_UUID),
            ("number", [1], "projectIds.0", NOT_UUID),
            ("empty", [], "projectIds", "List should have at least 1 item"),
            ("duplicate", [PROJECT, PROJECT], "projectIds", "must not name a project twice"),
            ("duplicate-case", [PROJECT, PROJECT.upper()], "projectIds", "must not name a project twice"),
            ("too-many", [f"{i:08x}-1b2a-4c3d-8e9f-001122334455" for i in range(101)], "projectIds", "List"),
            ("trailing-newline", [PROJECT + "\n"], "projectIds.0", NOT_UUID),
        ]
    ]
    return cases


def _subjects() -> list[BadInput]:
    def subject(**fields: Any) -> dict[str, Any]:
        return valid_body(subject=fields)

    cases = [
        _case(f"metadata-key-{name}", subject(metadata={k: PERSONAL}), "subject.metadata", BAD_KEY)
        for name, k in [
            ("dot", "user.id"),
            ("leading-digit", "1abc"),
            ("dash", "subject-id"),
            ("colon", "a:b"),
            ("space", "a b"),
            ("empty", ""),
            ("too-long", "k" * 129),
            ("quote", "a'b"),
            ("unicode", "clé"),
            ("newline", "key\n"),
        ]
    ]
    cases += [
        _case(f"metadata-value-{name}", subject(metadata={"subjectId": v}), "subject.metadata", BAD_VALUE)
        for name, v in [
            ("empty", ""),
            ("newline", PERSONAL + "\n"),
            ("nul", "a\u0000b"),
            ("tab", "a\tb"),
            ("too-long", "v" * 513),
            ("carriage-return", "a\rb"),
        ]
    ]
    # The field stops at subject.metadata: a key can be personal data as much as a value.
    cases += [
        _case(
            f"metadata-value-type-{json.dumps(v)}-{name}",
            subject(metadata={key: v}),
            "subject.metadata",
            NOT_STRING,
        )
        for v in [1, True, None, [], {}]
        for name, key in [("key", "k"), ("personal-key", PERSONAL)]
    ]
    cases += [
        _case("metadata-empty", subject(metadata={}), "subject.metadata", "must hold 1 to 10"),
        _case(
            "metadata-too-many",
            subject(metadata={f"k{i}": "v" for i in range(11)}),
            "subject.metadata",
            "must hold 1 to 10",
        ),
        _case("metadata-missing", subject(), "subject.metadata", "is required"),
        _case(
            "metadata-not-object",
            subject(metadata=["k", "v"]),
            "subject.metadata",
            "Input should be an object",
        ),
        _case(
            "subject-unknown-field",
            subject(metadata={"k": "v"}, name=PERSONAL),
            "subject.name",
            "unknown field",
        ),
        _case("subject-not-object", valid_body(subject=PERSONAL), "subject", "Input should be"),
    ]
    window = "subject.predictions"
    cases += [
        _case(
            f"predictions-from-{name}",
            subject(metadata={"k": "v"}, predictions={"from": v}),
            f"{window}.from",
            message,
        )
        for name, v, message in [
            ("zero", 0, NOT_STRING),
            ("epoch-number", 1767225600, NOT_STRING),
            ("true", True, NOT_STRING),
            ("no-zone", "2026-01-01T00:00:00", BAD_TIME),
            ("date-only", "2026-01-01", BAD_TIME),
            ("space-separator", "2026-01-01 00:00:00Z", BAD_TIME),
            ("underscore-separator", "2026-01-01_00:00:00Z", BAD_TIME),
            ("compact", "20260101T000000Z", BAD_TIME),
            ("month-13", "2026-13-01T00:00:00Z", BAD_TIME),
            ("day-32", "2026-01-32T00:00:00Z", BAD_TIME),
            ("hour-25", "2026-01-01T25:00:00Z", BAD_TIME),
            ("words", "yesterday", BAD_TIME),
            ("empty", "", BAD_TIME),
            ("trailing-newline", "2026-01-01T00:00:00Z\n", BAD_TIME),
            ("short-offset", "2026-01-01T00:00:00+01", BAD_TIME),
            # Past the last moment Python can hold once in UTC (was OverflowError: a 500, and a
            # queue message retried into the poison queue).
            ("after-year-9999-in-utc", "9999-12-31T23:00:00-05:00", BAD_TIME),
            ("before-year-1-in-utc", "0001-01-01T00:30:00+01:00", BAD_TIME),
            # Before: written back as "999-01-01T00:00:00Z", which the unit could not read, so the
            # category failed after the request was accepted.
            ("before-1970", "0999-01-01T00:00:00Z", TIME_RANGE),
            # Before: the fraction was dropped, so a delete's window began up to a second early and
            # took other people's predictions of that second.
            ("fraction-of-a-second", "2026-01-01T00:00:00.5Z", WHOLE_SECOND),
            ("fraction-past-microseconds", "2026-01-01T00:00:00.0000001Z", WHOLE_SECOND),
        ]
    ]
    cases += [
        _case(
            f"predictions-{name}",
            subject(metadata={"k": "v"}, predictions=v),
            field,
            message,
        )
        for name, v, field, message in [
            ("empty", {}, window, "give at least one of application, from, to"),
            ("nulls", {"from": None, "to": None}, window, "give at least one of application, from, to"),
            (
                "reversed",
                {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
                window,
                "'from' must be before 'to'",
            ),
            (
                "equal",
                {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00+01:00"},
                window,
                "'from' must be before 'to'",
            ),
            ("to-number", {"to": 0}, f"{window}.to", NOT_STRING),
            (
                "application-empty",
                {"application": ""},
                f"{window}.application",
                "String should have at least",
            ),
            ("application-number", {"application": 7}, f"{window}.application", NOT_STRING),
            ("application-newline", {"application": "kiosk\n"}, f"{window}.application", "must be printable"),
            (
                "application-too-long",
                {"application": "a" * 257},
                f"{window}.application",
                "String should have at most",
            ),
            ("unknown-field", {"app": "x"}, f"{window}.app", "unknown field"),
            ("not-object", "kiosk", window, "Input should be"),
        ]
    ]
    return cases


def _rules() -> list[BadInput]:
    return [
        _case("dryRun-on-export", valid_body(dryRun=True), "dryRun", "applies to delete requests only"),
        _case("unknown-field", valid_body(surprise=1), "surprise", "unknown field"),
        _case("unknown-field-personal", valid_body(subjectEmail=PERSONAL), "subjectEmail", "unknown field"),
        _case("missing-operation", {"account": valid_body()["account"]}, "operation", "is required"),
        _case("missing-account", {"operation": "export"}, "account", "is required"),
        _case(
            "missing-secret",
            valid_body(account={"endpoint": ENDPOINT}),
            "account.trainingKeySecret",
            "is required",
        ),
        _case(
            "account-unknown-field",
            valid_body(account={"endpoint": ENDPOINT, "trainingKeySecret": "k", "key": "s3cr3t"}),
            "account.key",
            "unknown field",
        ),
        _case(
            "subject-delete-of-projects",
            valid_body(
                operation="delete", subject={"metadata": {"k": "v"}}, categories=["images", "projects"]
            ),
            "categories",
            "projects cannot be limited to one data subject",
        ),
        _case(
            "callback-ftp",
            valid_body(callbackUrl="ftp://files.example"),
            "callbackUrl",
            "must be an https:// URL",
        ),
        _case("callback-relative", valid_body(callbackUrl="/hook"), "callbackUrl", "must be an https:// URL"),
        _case(
            "callback-userinfo",
            valid_body(callbackUrl="https://user:pw@hooks.example/x"),
            "callbackUrl",
            "must not carry user info",
        ),
        _case(
            "callback-fragment",
            valid_body(callbackUrl="https://hooks.example/x#frag"),
            "callbackUrl",
            "must not carry user info or a fragment",
        ),
        _case(
            "callback-too-long",
            valid_body(callbackUrl="https://hooks.example/" + "a" * 2100),
            "callbackUrl",
            "String should have at most",
        ),
        _case(
            "callback-newline",
            valid_body(callbackUrl="https://hooks.example/x\n"),
            "callbackUrl",
            "must be an https:// URL",
        ),
    ]


def _extensions() -> list[BadInput]:
    # The reason is told to the data subject and shown on status pages: the same rule as an approval's
    # comment or a cancel's reason (line breaks allowed, no other control or bidi character), and
    # not blank. Before, all of these were accepted.
    def extension(reason: Any) -> dict[str, Any]:
        return valid_body(extension={"months": 1, "reason": reason})

    field = "extension.reason"
    cases = [
        _case(f"extension-reason-{name}", extension(reason), field, BAD_REASON)
        for name, reason in [
            ("nul", f"complex request\u0000{PERSONAL}"),
            ("bidi-override", "complex \u202etseuqer"),
            ("bidi-isolate", "complex \u2066request\u2069"),
            ("escape", "\u001b[2Jcomplex request"),
            ("delete-character", "complex\u007frequest"),
            ("line-separator", "complex\u2028request"),
            ("zero-width-only", "\u200b"),
            ("spaces-only", "   "),
            ("line-breaks-only", "\r\n\t \n"),
            ("ideographic-space-only", "\u3000"),
        ]
    ]
    cases += [
        _case("extension-reason-empty", extension(""), field, "String should have at least 1 character"),
        _case("extension-reason-too-long", extension("r" * 501), field, "String should have at most 500"),
        _case("extension-reason-number", extension(1), field, NOT_STRING),
    ]
    return cases


CATALOGUE: tuple[BadInput, ...] = (
    *_structural(),
    *_types(),
    *_values(),
    *_subjects(),
    *_rules(),
    *_extensions(),
)
