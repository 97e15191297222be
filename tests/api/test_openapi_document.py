"""The connector document: valid OpenAPI 2.0, exactly the app's routes, what Logic Apps needs."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tests.api.openapi_contract import app_routes, check_answer, document, documented_routes

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
