"""HTTP triggers through the real host: route templates, methods, auth levels, response mapping."""

from __future__ import annotations

import requests

from tests.devhost.devhost_client import FUNCTION_KEY, Client


def test_host_status_reports_running(client: Client) -> None:
    response = requests.get(client.base + "/admin/host/status", timeout=5)
    assert response.status_code == 200
    assert response.json()["state"] == "Running"


def test_int_constraint_and_query_params(client: Client) -> None:
    ok = requests.get(client.base + "/api/items/42", params={"q": "x", "code": FUNCTION_KEY}, timeout=5)
    assert ok.status_code == 200
    assert ok.json() == {"id": 42, "q": "x"}
    not_int = requests.get(client.base + "/api/items/abc", params={"code": FUNCTION_KEY}, timeout=5)
    assert not_int.status_code == 404


def test_function_key_is_enforced(client: Client) -> None:
    url = client.base + "/api/items/1"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, params={"code": "wrong"}, timeout=5).status_code == 401
    assert requests.get(url, headers={"x-functions-key": FUNCTION_KEY}, timeout=5).status_code == 200


def test_catch_all_route_method_body_and_headers(client: Client) -> None:
    response = requests.post(
        client.base + "/api/echo/a/b/c", data=b"payload", headers={"x-test": "hdr"}, timeout=5
    )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"method": "POST", "rest": "a/b/c", "body": "payload", "header": "hdr"}


def test_wrong_method_is_405_and_unknown_route_is_404(client: Client) -> None:
    assert requests.delete(client.base + "/api/echo/x", timeout=5).status_code == 405
    assert requests.get(client.base + "/api/no-such-route", timeout=5).status_code == 404
    assert requests.get(client.base + "/elsewhere", timeout=5).status_code == 404


def test_optional_parameter_str_and_none_returns(client: Client) -> None:
    assert requests.get(client.base + "/api/optional/bob", timeout=5).text == "bob"
    assert requests.get(client.base + "/api/optional", timeout=5).text == "none"
    assert requests.get(client.base + "/api/nothing", timeout=5).status_code == 204


def test_function_exception_is_500(client: Client) -> None:
    assert requests.get(client.base + "/api/explode", timeout=5).status_code == 500


def test_webhook_api_needs_key_when_keys_are_configured(client: Client) -> None:
    url = client.base + "/runtime/webhooks/durabletask/instances/none"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, params={"code": FUNCTION_KEY}, timeout=5).status_code == 404
