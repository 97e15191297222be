"""Client pieces without the emulator: retry timing, token bucket, response validation via the
session seam, and the allow-list refusing before any request is sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from requests.adapters import BaseAdapter

from dsr.customvision import (
    ClientOptions,
    ForbiddenError,
    IterationPublishedError,
    NotFoundError,
    ServiceError,
    TrainingClient,
    UnexpectedResponseError,
)
from dsr.customvision.client import error_for_status
from dsr.customvision.models import parse_datetime
from dsr.customvision.ratelimit import TokenBucket
from dsr.customvision.retry import parse_retry_after
from dsr.errors import EndpointNotAllowedError, InvalidRequestError

ENDPOINT = "https://unit.cognitiveservices.azure.com"
PROJECT = "11111111-1111-1111-1111-111111111111"


class CannedAdapter(BaseAdapter):
    """Answers every request with one canned JSON body and remembers what was sent."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__()
        self.status, self.body, self.sent = status, body, []

    def send(self, request, **kwargs):
        self.sent.append(request)
        response = requests.Response()
        response.status_code, response._content, response.request = self.status, self.body, request
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self):
        pass


def _client(adapter: CannedAdapter, endpoint: str = ENDPOINT) -> TrainingClient:
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return TrainingClient(endpoint, "k" * 32, ClientOptions(rate_limit_per_second=None), session=session)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.com",
        "https://evil.com?x=.cognitiveservices.azure.com",
        "http://unit.cognitiveservices.azure.com",
    ],
)
def test_allow_list_refuses_before_any_request(endpoint):
    adapter = CannedAdapter(200, b"[]")
    with pytest.raises(EndpointNotAllowedError):
        _client(adapter, endpoint)
    assert adapter.sent == []


def test_requests_carry_key_header_and_v33_path():
    adapter = CannedAdapter(200, b"[]")
    assert _client(adapter).get_projects() == []
    [sent] = adapter.sent
    assert sent.url == ENDPOINT + "/customvision/v3.3/training/projects"
    assert sent.headers["Training-Key"] == "k" * 32


@pytest.mark.parametrize(
    "body",
    [b"{}", b"[{}]", b'[{"id": 5, "name": "x"}]', b"not json", b'[{"id": "a", "name": "b", "created": 1}]'],
)
def test_wrong_shapes_are_permanent_unexpected_response_errors(body):
    with pytest.raises(UnexpectedResponseError) as info:
        _client(CannedAdapter(200, body)).get_projects()
    assert not info.value.transient


def test_ids_are_validated_before_sending():
    adapter = CannedAdapter(204, b"")
    with pytest.raises(InvalidRequestError):
        _client(adapter).delete_images(PROJECT, ["../../projects"])
    with pytest.raises(InvalidRequestError):
        _client(adapter).get_project("x/../y")
    assert adapter.sent == []


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (404, "NotFoundImage", NotFoundError),
        (400, "NotFoundIteration", NotFoundError),
        (403, "ForbiddenDRModeEnabled", ForbiddenError),
        (400, "ForbiddenUser", ForbiddenError),
        (400, "BadRequestIterationIsPublished", IterationPublishedError),
        (503, "ErrorUnknown", ServiceError),
    ],
)
def test_error_mapping(status, code, error):
    mapped = error_for_status("Op", status, code, 1, None)
    assert type(mapped) is error
    assert (mapped.code, mapped.status, mapped.operation) == (code, status, "Op")


def test_retry_after_forms():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:05 GMT", now) == 5.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_token_bucket_spaces_calls():
    clock = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    bucket = TokenBucket(10.0, burst=2, clock=lambda: clock[0], sleep=sleep)
    for _ in range(4):
        bucket.acquire()
    assert waits == pytest.approx([0.1, 0.1])


def test_dotnet_timestamps_parse():
    assert parse_datetime("2017-12-18T05:43:18.1234567Z") == datetime(
        2017, 12, 18, 5, 43, 18, 123456, tzinfo=UTC
    )
    assert parse_datetime("2017-12-18T05:43:18Z").tzinfo is not None
