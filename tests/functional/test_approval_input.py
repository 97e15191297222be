"""The approver's decision as the HTTP API reads it: required fields, bounded printable text, and the
principal only when App Service authentication set it."""

from __future__ import annotations

import azure.functions as func
import pytest

from dsr.config import load_settings
from dsr.errors import InvalidRequestError
from triggers.approval import MAX_APPROVER_LENGTH, authenticated_principal, parse_decision
from triggers.http_api import _json_object, _optional_text


def test_a_decision_is_read_with_its_comment():
    decision = parse_decision(
        {"by": " dpo ", "decision": "reject", "comment": "wrong subject\nsee ticket"}, None
    )
    assert decision == {
        "by": "dpo",
        "decision": "reject",
        "comment": "wrong subject\nsee ticket",
        "principal": None,
    }


def test_a_missing_decision_is_refused_not_taken_as_approval():
    with pytest.raises(InvalidRequestError) as refused:
        parse_decision({"by": "dpo"}, None)
    assert refused.value.field == "decision"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"by": " " * 300 + "x", "decision": "approve"}, "by"),  # the limit is on what was sent
        ({"by": "a" * (MAX_APPROVER_LENGTH + 1), "decision": "approve"}, "by"),
        ({"by": "a\nFORGED", "decision": "approve"}, "by"),
        ({"by": "a\u0000", "decision": "approve"}, "by"),
        ({"by": "   ", "decision": "approve"}, "by"),
        ({"by": True, "decision": "approve"}, "by"),
        ({"by": "dpo", "decision": "Approve"}, "decision"),
        ({"by": "dpo", "decision": True}, "decision"),
        ({"by": "dpo", "decision": "approve", "comment": "\u202etxet"}, "comment"),  # a bidi override
        ({"by": "dpo", "decision": "approve", "comment": "a\u0007"}, "comment"),
        ({"by": "dpo", "decision": "approve", "comment": "c" * 1001}, "comment"),
        ({"by": "dpo", "decision": "approve", "comment": 5}, "comment"),
    ],
)
def test_bad_fields_are_refused_by_name(body, field):
    with pytest.raises(InvalidRequestError) as refused:
        parse_decision(body, None)
    assert refused.value.field == field


def test_the_principal_is_kept_when_the_platform_vouches_for_it():
    assert (
        parse_decision({"by": "dpo", "decision": "approve"}, "dpo@contoso.com")["principal"]
        == "dpo@contoso.com"
    )


def test_the_principal_header_is_ignored_unless_app_service_authentication_fronts_the_app():
    # Without the platform's authentication in front, anyone holding a function key can send the header.
    headers = {"x-ms-client-principal-name": "ceo@contoso.com"}
    assert authenticated_principal(headers, app_service_authentication=False) is None
    assert authenticated_principal(headers, app_service_authentication=True) == "ceo@contoso.com"
    assert authenticated_principal({}, app_service_authentication=True) is None


def test_app_service_authentication_is_read_from_the_platform_setting():
    base = {"DSR_STORAGE_CONNECTION": "UseDevelopmentStorage=true", "DSR_KEY_VAULT_URL": "https://v.example"}
    assert load_settings(base).app_service_authentication is False
    assert load_settings(base | {"WEBSITE_AUTH_ENABLED": "True"}).app_service_authentication is True
    assert load_settings(base | {"WEBSITE_AUTH_ENABLED": "False"}).app_service_authentication is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"by": "ops\u202e"}, "by"),
        ({"by": "ops\n"}, "by"),
        ({"reason": "a\u0000"}, "reason"),
        ({"reason": 3}, "reason"),
    ],
)
def test_a_cancel_s_text_is_plain_text(body, field):
    with pytest.raises(InvalidRequestError) as refused:
        _optional_text(body, field, 1000, lines=field == "reason")
    assert refused.value.field == field


def test_a_cancel_reason_may_break_lines():
    assert (
        _optional_text({"reason": "duplicate\nsee ticket 9"}, "reason", 1000, lines=True)
        == "duplicate\nsee ticket 9"
    )


def test_a_chunked_body_the_host_passed_on_empty_is_refused_not_read_as_no_body():
    request = func.HttpRequest(
        "POST", "http://host/api/requests/r1/cancel", headers={"Transfer-Encoding": "chunked"}, body=b""
    )
    with pytest.raises(InvalidRequestError) as refused:
        _json_object(request, {"by", "reason"}, optional=True)
    assert refused.value.field == "body"
    sized = func.HttpRequest("POST", "http://host/api/requests/r1/cancel", headers={}, body=b"")
    assert _json_object(sized, {"by", "reason"}, optional=True) == {}
