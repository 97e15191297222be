"""HTTP triggers through the real host: route templates, methods, auth levels, response mapping."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import requests

from tests.devhost.devhost_client import FUNCTION_KEY, MASTER_KEY, SYSTEM_KEY, Client


def test_host_status_needs_the_master_key(client: Client) -> None:
    url = client.base + "/admin/host/status"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, params={"code": FUNCTION_KEY}, timeout=5).status_code == 401
    assert requests.get(url, params={"code": SYSTEM_KEY}, timeout=5).status_code == 401
    response = requests.get(url, headers={"x-functions-key": MASTER_KEY}, timeout=5)
    assert response.status_code == 200
    assert response.json()["state"] == "Running"
    assert response.json()["instances"] == 1


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
    # The master key opens every route; a system key is below function level in Azure's order.
    assert requests.get(url, params={"code": MASTER_KEY}, timeout=5).status_code == 200
    assert requests.get(url, params={"code": SYSTEM_KEY}, timeout=5).status_code == 401


def test_header_key_wins_over_code(client: Client) -> None:
    url = client.base + "/api/items/1"
    wrong_header = requests.get(
        url, params={"code": FUNCTION_KEY}, headers={"x-functions-key": "wrong"}, timeout=5
    )
    assert wrong_header.status_code == 401
    right_header = requests.get(
        url, params={"code": "wrong"}, headers={"x-functions-key": FUNCTION_KEY}, timeout=5
    )
    assert right_header.status_code == 200


def test_route_prefix_and_webhook_path_match_case_insensitively(client: Client) -> None:
    assert requests.get(client.base + "/API/items/7", params={"code": FUNCTION_KEY}, timeout=5).ok
    assert requests.get(client.base + "/Api/Items/7", params={"code": FUNCTION_KEY}, timeout=5).ok
    webhook = client.base + "/Runtime/Webhooks/DurableTask/instances/none"
    assert requests.get(webhook, params={"code": SYSTEM_KEY}, timeout=5).status_code == 404


def test_catch_all_route_method_body_and_headers(client: Client) -> None:
    response = requests.post(
        client.base + "/api/echo/a/b/c", data=b"payload", headers={"x-test": "hdr"}, timeout=5
    )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "method": "POST",
        "rest": "a/b/c",
        "body": "payload",
        "header": "hdr",
        "params": {},
    }


def test_the_function_gets_query_and_headers_as_the_host_converts_them(client: Client) -> None:
    # Before: a repeated query name or header reached the function as its first value and an empty
    # query value as "". The host joins repeats with commas (ASP.NET StringValues), merges names that
    # differ in case only, and drops empty query values (the Python worker asks for no nullable ones).
    query = "pageSize=5&pageSize=6&State=a&state=b&empty=&flag"
    response = requests.get(f"{client.base}/api/echo/q?{query}", timeout=5)
    assert response.json()["params"] == {"pageSize": "5,6", "State": "a,b"}

    address = urlsplit(client.base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    try:
        connection.putrequest("GET", "/api/echo/h")
        connection.putheader("X-Test", "one")
        connection.putheader("x-test", "two")
        connection.endheaders()
        answer = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert answer["header"] == "one,two"


def test_a_repeated_key_counts_by_its_first_value_as_the_host_reads_it(client: Client) -> None:
    # The host takes a key's first value (AuthenticationLevelHandler), not the joined one the
    # function would see.
    url = client.base + "/api/items/1"
    first_right = requests.get(url, params=[("code", FUNCTION_KEY), ("Code", "wrong")], timeout=5)
    assert first_right.status_code == 200
    assert requests.get(url, params=[("code", "wrong"), ("code", FUNCTION_KEY)], timeout=5).status_code == 401
    assert requests.get(f"{url}?code=&code={FUNCTION_KEY}", timeout=5).status_code == 401


def test_wrong_method_is_404_like_an_unknown_route(client: Client) -> None:
    assert requests.delete(client.base + "/api/echo/x", timeout=5).status_code == 404
    # Routing comes first: an unmatched method is 404 even without a key on a function-level route.
    assert requests.post(client.base + "/api/items/1", timeout=5).status_code == 404
    assert requests.get(client.base + "/api/no-such-route", timeout=5).status_code == 404
    assert requests.get(client.base + "/elsewhere", timeout=5).status_code == 404


def test_optional_parameter_str_and_none_returns(client: Client) -> None:
    assert requests.get(client.base + "/api/optional/bob", timeout=5).text == "bob"
    assert requests.get(client.base + "/api/optional", timeout=5).text == "none"
    assert requests.get(client.base + "/api/nothing", timeout=5).status_code == 204


def test_function_exception_is_500(client: Client) -> None:
    assert requests.get(client.base + "/api/explode", timeout=5).status_code == 500


def test_webhooks_need_the_system_or_master_key(client: Client) -> None:
    url = client.base + "/runtime/webhooks/durabletask/instances/none"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, params={"code": FUNCTION_KEY}, timeout=5).status_code == 401
    assert requests.get(url, params={"code": SYSTEM_KEY}, timeout=5).status_code == 404
    assert requests.get(url, headers={"x-functions-key": MASTER_KEY}, timeout=5).status_code == 404


def test_a_chunked_request_body_reaches_the_function_empty_as_in_azure(client) -> None:
    # The host fills the worker's body only when Content-Length > 0 (ToRpcHttp); chunked bodies are
    # not passed on (azure-functions-host issue 7930).
    chunked = requests.post(client.base + "/api/echo/x", data=iter([b"pay", b"load"]), timeout=5)
    assert chunked.json()["body"] == ""
    sized = requests.post(client.base + "/api/echo/x", data=b"payload", timeout=5)
    assert sized.json()["body"] == "payload"
