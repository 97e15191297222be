"""Synchronous client for the Custom Vision Training API v3.3, built on ``requests``.

One client per account (endpoint + training key). It is safe to share between threads: the rate limiter
is locked, and ``requests.Session`` connection pooling is thread-safe for this use. The session is the
transport seam: pass one with mounted adapters to test without a network.

The client keeps no record of its calls: whoever wants one passes *call hooks* (like httpx's event
hooks), each called with a :class:`CallRecord` when a call ends. :meth:`TrainingClient.view` gives one
piece of work its own hooks over the shared sessions and rate limiter, so nothing grows with the life
of the process.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from dsr.customvision.calls import DOWNLOAD_OPERATION, CallHook, CallOutcome, CallRecord
from dsr.customvision.endpoints import EndpointAllowList
from dsr.customvision.errors import (
    ITERATION_IS_PUBLISHED,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CustomVisionError,
    DownloadTooLargeError,
    ForbiddenError,
    IterationPublishedError,
    NotFoundError,
    ServiceError,
    ThrottledError,
    UnexpectedResponseError,
)
from dsr.customvision.filters import metadata_filter
from dsr.customvision.models import (
    Export,
    Image,
    ImagePerformance,
    Iteration,
    IterationPerformance,
    JsonFields,
    Project,
    ProjectExportCounts,
    StoredImagePrediction,
    Tag,
    parse_list,
)
from dsr.customvision.ratelimit import RateLimiter, TokenBucket
from dsr.customvision.retry import backoff_seconds, is_retryable, parse_retry_after
from dsr.errors import InvalidRequestError, TransientError

API_BASE_PATH: Final = "/customvision/v3.3/training"
KEY_HEADER: Final = "Training-Key"
PAGE_SIZE: Final = 256  # maximum `take` of every list operation
API_POOL_CONNECTIONS: Final = 16  # concurrent API calls of one process stay below this at ~10 calls/s
POOL_HOSTS: Final = 4  # hosts kept pooled per session (one API host; blob hosts per storage account)
MAX_IMAGE_IDS_PER_CALL: Final = 256  # GetImagesByIds, DeleteImages
MAX_PREDICTION_IDS_PER_CALL: Final = 64  # DeletePrediction
PREDICTION_PAGE_SIZE: Final = 256  # QueryPredictions maxCount (the spec sets no maximum)
TAGGING_STATUSES: Final = frozenset({"All", "Tagged", "Untagged"})
DEFAULT_RATE_LIMIT_PER_SECOND: Final = 10.0  # Training API "other calls" limit on both F0 and S0
MIN_RATE_LIMIT_PER_SECOND: Final = 0.1
"""The slowest budget an account can be given: one call every 10 s (a smaller one would stall units)."""
DEFAULT_MAX_RETRY_SECONDS: Final = 120.0
"""Long enough to ride out a throttling burst; short enough that a unit's last call still ends well
inside the Functions timeout (see ``DEFAULT_UNIT_TIME_BUDGET_SECONDS`` in :mod:`dsr.config`)."""
DEFAULT_CALL_TIMEOUT_SECONDS: Final = 30.0
"""Connect timeout, and the longest wait for the next bytes of a response (not for the whole of it): a
stalled connection is dropped and retried well inside a unit's time budget."""

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_RETRIED_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class ClientOptions:
    """Tuning for one client. Defaults suit the Training API's ~10 calls/s per resource."""

    rate_limit_per_second: float | None = DEFAULT_RATE_LIMIT_PER_SECOND
    """Client-side limit for API calls (not blob downloads); ``None`` disables it."""
    max_retry_seconds: float = DEFAULT_MAX_RETRY_SECONDS
    """Upper bound on the time one call may spend retrying 429/5xx/resets before raising."""
    timeout_seconds: float = DEFAULT_CALL_TIMEOUT_SECONDS
    """Connect and read timeout of each attempt."""
    max_download_bytes: int = 512 * 1024 * 1024
    """Refuse blobs larger than this (images are at most 6 MB; exported models are larger)."""
    download_chunk_bytes: int = 64 * 1024
    download_concurrency: int = 16
    """Threads expected to download at once; the blob connection pool holds this many connections."""
    hooks: tuple[CallHook, ...] = ()
    """Called with a :class:`CallRecord` after every call and download (any thread)."""


class _Secret:
    """Holds the key so that ``repr``/``vars`` dumps of a client never print it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"


def _check_uuid(value: str, field: str) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise InvalidRequestError(field, "must be a UUID")
    return value


def _check_uuids(values: Sequence[str], field: str) -> list[str]:
    if isinstance(values, str):
        raise InvalidRequestError(field, "must be a list of UUIDs, not a string")
    return [_check_uuid(value, field) for value in values]


def _chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _utc_iso(value: datetime, field: str) -> str:
    if value.tzinfo is None:
        raise InvalidRequestError(field, "must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _error_code(response: requests.Response) -> str:
    """The service's error code from a CustomVisionError body or an APIM ``{"error": {...}}`` body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code: object = None
    if isinstance(body, dict):
        code = body.get("code")
        if not isinstance(code, str) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
    if isinstance(code, str) and _SAFE_CODE.fullmatch(code):
        return code
    return f"Http{response.status_code}"


def error_for_status(
    operation: str, status: int, code: str, attempts: int, retry_after: float | None
) -> CustomVisionError:
    """Map an HTTP status and service code onto the error tree (code prefixes win over statuses)."""
    if status == 401:
        return AuthenticationError(operation, status, code, attempts=attempts)
    if status == 429:
        return ThrottledError(operation, status, code, attempts=attempts, retry_after=retry_after)
    if is_retryable(status):
        return ServiceError(operation, status, code, attempts=attempts)
    if code.startswith("NotFound") or status == 404:
        return NotFoundError(operation, status, code, attempts=attempts)
    if code.startswith("Forbidden") or status == 403:
        return ForbiddenError(operation, status, code, attempts=attempts)
    if code.startswith("Conflict") or status == 409:
        return ConflictError(operation, status, code, attempts=attempts)
    if code == ITERATION_IS_PUBLISHED:
        return IterationPublishedError(operation, status, code, attempts=attempts)
    return BadRequestError(operation, status, code, attempts=attempts)


class TrainingClient:
    """Training API client for one Custom Vision resource.

    The endpoint is checked against ``allow_list`` before anything else happens, so a key is never sent
    to a host outside it. Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        endpoint: str,
        training_key: str,
        options: ClientOptions | None = None,
        allow_list: EndpointAllowList | None = None,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.endpoint = (allow_list or EndpointAllowList()).check(endpoint)
        if not training_key or not training_key.isprintable():
            raise InvalidRequestError("trainingKey", "must be a non-empty printable string")
        self.options = options or ClientOptions()
        self._key = _Secret(training_key)
        self._base = self.endpoint + API_BASE_PATH
        self._owns_session = session is None
        self._session = session or self._new_session(API_POOL_CONNECTIONS)
        # Blob URIs carry their own SAS authorization; a separate session makes sure that no header
        # configured for the API (the key) can ever reach a blob host.
        self._download_session = self._new_session(self.options.download_concurrency)
        rate = self.options.rate_limit_per_second
        self._bucket: RateLimiter | None = limiter or (TokenBucket(rate) if rate else None)
        self._hooks = self.options.hooks
        self._is_view = False
        self._sleep: Callable[[float], None] = time.sleep

    @staticmethod
    def _new_session(pool_size: int) -> requests.Session:
        session = requests.Session()
        # No proxies or .netrc credentials from the environment: requests would add an
        # Authorization header from ~/.netrc to any matching host.
        session.trust_env = False
        # One pool slot per thread that may use the session at once; requests' default of 10 makes
        # extra threads open and drop connections ("Connection pool is full").
        adapter = HTTPAdapter(pool_connections=POOL_HOSTS, pool_maxsize=max(1, pool_size))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def view(self, hooks: tuple[CallHook, ...]) -> TrainingClient:
        """This client with other call hooks: same sessions, same rate limiter. Closing it is a no-op."""
        other = copy.copy(self)
        other._hooks = hooks
        other._is_view = True
        return other

    def __repr__(self) -> str:
        return f"TrainingClient(endpoint={self.endpoint!r})"

    def __enter__(self) -> TrainingClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections (the caller's session is left open if one was passed in)."""
        if self._is_view:
            return
        if self._owns_session:
            self._session.close()
        self._download_session.close()

    # -- transport -------------------------------------------------------------------------------

    def _record(
        self, operation: str, method: str, status: int | None, attempts: int, started: float, throttled: int
    ) -> None:
        record = CallRecord(
            operation, method, status, attempts, round((time.monotonic() - started) * 1000, 3), throttled
        )
        for hook in self._hooks:
            hook(record)

    def _send(
        self,
        operation: str,
        method: str,
        attempt_once: Callable[[], requests.Response],
        expected: tuple[int, ...],
        *,
        rate_limited: bool = True,
    ) -> requests.Response:
        """Run ``attempt_once`` until it returns an expected status, a permanent error, or the budget ends."""
        started = time.monotonic()
        deadline = started + self.options.max_retry_seconds
        attempts = 0
        throttled = 0
        while True:
            attempts += 1
            if rate_limited and self._bucket is not None:
                self._bucket.acquire()
            status: int | None = None
            try:
                response = attempt_once()
            except _RETRIED_EXCEPTIONS as exc:
                # Not chained: a requests exception's text holds the URL, whose query may hold a
                # data subject's metadata value.
                error: CustomVisionError = ServiceError(
                    operation, None, type(exc).__name__, attempts=attempts
                )
                wait = backoff_seconds(attempts)
            else:
                status = response.status_code
                if status in expected:
                    self._record(operation, method, status, attempts, started, throttled)
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = error_for_status(operation, status, _error_code(response), attempts, retry_after)
                response.close()
                if not isinstance(error, TransientError):
                    self._record(operation, method, status, attempts, started, throttled)
                    raise error
                if status == 429:
                    throttled += 1
                wait = retry_after if status == 429 and retry_after is not None else backoff_seconds(attempts)
            if time.monotonic() + wait > deadline:
                self._record(operation, method, status, attempts, started, throttled)
                raise error
            self._sleep(wait)

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | float] | None = None,
        body: Mapping[str, Any] | None = None,
        expected: tuple[int, ...] = (200,),
    ) -> requests.Response:
        url = self._base + path
        headers = {KEY_HEADER: self._key.reveal(), "Accept": "application/json"}
        timeout = self.options.timeout_seconds

        def attempt_once() -> requests.Response:
            return self._session.request(
                method,
                url,
                params=dict(params) if params else None,
                json=dict(body) if body is not None else None,
                headers=headers,
                timeout=(timeout, timeout),
                # A redirect would carry the custom key header to wherever it points.
                allow_redirects=False,
            )

        return self._send(operation, method, attempt_once, expected)

    def _get_json(
        self, operation: str, path: str, params: Mapping[str, str | int | float] | None = None
    ) -> Any:
        response = self._call(operation, "GET", path, params=params)
        return self._json(operation, response)

    @staticmethod
    def _json(operation: str, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise UnexpectedResponseError(operation, response.status_code, "body is not JSON") from exc

    def _pages(
        self, operation: str, path: str, params: Mapping[str, str | int | float], start: int = 0
    ) -> Iterator[list[Any]]:
        """Skip/take paging at the maximum page size from offset ``start``; stops at the first short page."""
        skip = start
        while True:
            page = parse_list(
                self._get_json(operation, path, {**params, "take": PAGE_SIZE, "skip": skip}),
                operation,
                operation,
            )
            if page:
                yield page
            if len(page) < PAGE_SIZE:
                return
            skip += len(page)

    @staticmethod
    def _project_path(project_id: str) -> str:
        return f"/projects/{quote(_check_uuid(project_id, 'projectId'))}"

    # -- projects --------------------------------------------------------------------------------

    def get_projects(self) -> list[Project]:
        op = "GetProjects"
        return [
            Project.from_json(item, op) for item in parse_list(self._get_json(op, "/projects"), op, "Project")
        ]

    def get_project(self, project_id: str) -> Project:
        op = "GetProject"
        return Project.from_json(self._get_json(op, self._project_path(project_id)), op)

    def get_project_export_counts(self, project_id: str) -> ProjectExportCounts:
        """ExportProject's counts. Its import token grants access to the project's data, so it is dropped."""
        op = "ExportProject"
        return ProjectExportCounts.from_json(
            self._get_json(op, self._project_path(project_id) + "/export"), op
        )

    def delete_project(self, project_id: str) -> None:
        self._call("DeleteProject", "DELETE", self._project_path(project_id), expected=(204, 200))

    # -- iterations ------------------------------------------------------------------------------

    def _iteration_path(self, project_id: str, iteration_id: str) -> str:
        return f"{self._project_path(project_id)}/iterations/{_check_uuid(iteration_id, 'iterationId')}"

    def get_iterations(self, project_id: str) -> list[Iteration]:
        op = "GetIterations"
        items = parse_list(
            self._get_json(op, self._project_path(project_id) + "/iterations"), op, "Iteration"
        )
        return [Iteration.from_json(item, op) for item in items]

    def get_iteration_performance(
        self,
        project_id: str,
        iteration_id: str,
        threshold: float = 0.5,
        overlap_threshold: float | None = None,
    ) -> IterationPerformance:
        op = "GetIterationPerformance"
        params: dict[str, str | int | float] = {"threshold": threshold}
        if overlap_threshold is not None:
            params["overlapThreshold"] = overlap_threshold
        path = self._iteration_path(project_id, iteration_id) + "/performance"
        return IterationPerformance.from_json(self._get_json(op, path, params), op)

    def iter_image_performances(
        self, project_id: str, iteration_id: str, skip: int = 0
    ) -> Iterator[list[ImagePerformance]]:
        """Pages of GetImagePerformances from offset ``skip``: every image the iteration was trained on."""
        op = "GetImagePerformances"
        path = self._iteration_path(project_id, iteration_id) + "/performance/images"
        for page in self._pages(op, path, {}, start=skip):
            yield [ImagePerformance.from_json(item, op) for item in page]

    def get_exports(self, project_id: str, iteration_id: str) -> list[Export]:
        op = "GetExports"
        path = self._iteration_path(project_id, iteration_id) + "/export"
        return [Export.from_json(item, op) for item in parse_list(self._get_json(op, path), op, "Export")]

    def unpublish_iteration(self, project_id: str, iteration_id: str) -> None:
        path = self._iteration_path(project_id, iteration_id) + "/publish"
        self._call("UnpublishIteration", "DELETE", path, expected=(204, 200))

    def delete_iteration(self, project_id: str, iteration_id: str) -> None:
        """Raises ``IterationPublishedError`` while the iteration is published."""
        self._call(
            "DeleteIteration", "DELETE", self._iteration_path(project_id, iteration_id), expected=(204, 200)
        )

    # -- tags ------------------------------------------------------------------------------------

    def get_tags(self, project_id: str, iteration_id: str | None = None) -> list[Tag]:
        op = "GetTags"
        params = {"iterationId": _check_uuid(iteration_id, "iterationId")} if iteration_id else None
        items = parse_list(self._get_json(op, self._project_path(project_id) + "/tags", params), op, "Tag")
        return [Tag.from_json(item, op) for item in items]

    def delete_tag(self, project_id: str, tag_id: str) -> None:
        path = f"{self._project_path(project_id)}/tags/{_check_uuid(tag_id, 'tagId')}"
        self._call("DeleteTag", "DELETE", path, expected=(204, 200))

    # -- images ----------------------------------------------------------------------------------

    @staticmethod
    def _image_params(
        metadata: Mapping[str, str] | None, tagging_status: str | None, iteration_id: str | None
    ) -> dict[str, str | int | float]:
        params: dict[str, str | int | float] = {}
        if tagging_status is not None:
            if tagging_status not in TAGGING_STATUSES:
                raise InvalidRequestError("taggingStatus", "must be All, Tagged or Untagged")
            params["taggingStatus"] = tagging_status
        if metadata is not None:
            params["$filter"] = metadata_filter(metadata)
        if iteration_id is not None:
            params["iterationId"] = _check_uuid(iteration_id, "iterationId")
        return params

    def iter_images(
        self,
        project_id: str,
        *,
        metadata: Mapping[str, str] | None = None,
        tagging_status: str = "All",
        iteration_id: str | None = None,
        skip: int = 0,
    ) -> Iterator[list[Image]]:
        """Pages of GetImages from offset ``skip``. ``metadata`` pairs must all match exactly (``and``).

        Paging is by offset: collect ids first and delete afterwards, or deletions shift later pages.
        """
        op = "GetImages"
        params = self._image_params(metadata, tagging_status, iteration_id)
        for page in self._pages(op, self._project_path(project_id) + "/images", params, start=skip):
            yield [Image.from_json(item, op) for item in page]

    def iter_untagged_images(
        self, project_id: str, iteration_id: str | None = None, skip: int = 0
    ) -> Iterator[list[Image]]:
        op = "GetUntaggedImages"
        params = self._image_params(None, None, iteration_id)
        for page in self._pages(op, self._project_path(project_id) + "/images/untagged", params, start=skip):
            yield [Image.from_json(item, op) for item in page]

    def get_images_by_ids(
        self, project_id: str, ids: Sequence[str], iteration_id: str | None = None
    ) -> list[Image]:
        """Images with these ids; ids that do not exist are simply absent from the result."""
        op = "GetImagesByIds"
        checked = _check_uuids(ids, "imageIds")
        path = self._project_path(project_id) + "/images/id"
        images: list[Image] = []
        for chunk in _chunks(checked, MAX_IMAGE_IDS_PER_CALL):
            params = self._image_params(None, None, iteration_id)
            params["imageIds"] = ",".join(chunk)
            images.extend(
                Image.from_json(item, op)
                for item in parse_list(self._get_json(op, path, params), op, "Image")
            )
        return images

    def delete_images(
        self, project_id: str, ids: Sequence[str], *, all_iterations: bool = True
    ) -> list[CallOutcome]:
        """Delete images by id, 256 per call. With ``all_iterations`` (the GDPR default) they also leave
        trained iterations; the service then answers 202 and finishes asynchronously."""
        checked = _check_uuids(ids, "imageIds")
        path = self._project_path(project_id) + "/images"
        outcomes = []
        for chunk in _chunks(checked, MAX_IMAGE_IDS_PER_CALL):
            params: dict[str, str | int | float] = {"imageIds": ",".join(chunk)}
            if all_iterations:
                params["allIterations"] = "true"
            response = self._call("DeleteImages", "DELETE", path, params=params, expected=(202, 204))
            outcomes.append(CallOutcome("DeleteImages", tuple(chunk), response.status_code))
        return outcomes

    # -- predictions -----------------------------------------------------------------------------

    def iter_predictions(
        self,
        project_id: str,
        *,
        application: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> Iterator[list[StoredImagePrediction]]:
        """Pages of QueryPredictions, following the continuation token until it is empty."""
        op = "QueryPredictions"
        path = self._project_path(project_id) + "/predictions/query"
        query: dict[str, Any] = {"maxCount": PREDICTION_PAGE_SIZE, "orderBy": "Newest"}
        if application is not None:
            query["application"] = application
        if start_time is not None:
            query["startTime"] = _utc_iso(start_time, "startTime")
        if end_time is not None:
            query["endTime"] = _utc_iso(end_time, "endTime")
        seen: set[str] = set()
        while True:
            response = self._call(op, "POST", path, body=query)
            result = JsonFields(self._json(op, response), op, "PredictionQueryResult")
            page = [StoredImagePrediction.from_json(item, op) for item in result.array("results")]
            if page:
                yield page
            token = JsonFields(result.obj.get("token") or {}, op, "PredictionQueryResult.token")
            continuation = token.opt_text("continuation")
            if not page or continuation is None:
                return
            if continuation in seen:
                raise UnexpectedResponseError(op, response.status_code, "continuation token repeated")
            seen.add(continuation)
            query = {**query, **{k: v for k, v in token.obj.items() if v is not None}}

    def delete_predictions(self, project_id: str, ids: Sequence[str]) -> list[CallOutcome]:
        """Delete stored predictions (and their images), 64 ids per call."""
        checked = _check_uuids(ids, "ids")
        path = self._project_path(project_id) + "/predictions"
        outcomes = []
        for chunk in _chunks(checked, MAX_PREDICTION_IDS_PER_CALL):
            response = self._call(
                "DeletePrediction", "DELETE", path, params={"ids": ",".join(chunk)}, expected=(204, 200)
            )
            outcomes.append(CallOutcome("DeletePrediction", tuple(chunk), response.status_code))
        return outcomes

    # -- blobs -----------------------------------------------------------------------------------

    @contextmanager
    def open_download(self, uri: str) -> Iterator[Iterator[bytes]]:
        """Stream a blob the API pointed to (image, thumbnail, exported model), without the key.

        Yields an iterator of byte chunks; raises ``DownloadTooLargeError`` past
        ``options.max_download_bytes``. The URI is never recorded: its query is a SAS token.
        """
        parts = urlsplit(uri)
        if parts.scheme not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
            raise InvalidRequestError("uri", "must be an absolute http(s) URI without userinfo")
        limit = self.options.max_download_bytes
        timeout = self.options.timeout_seconds

        def attempt_once() -> requests.Response:
            return self._download_session.get(
                uri, stream=True, timeout=(timeout, timeout), allow_redirects=False
            )

        response = self._send(DOWNLOAD_OPERATION, "GET", attempt_once, (200,), rate_limited=False)
        try:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise DownloadTooLargeError(limit)
            yield self._bounded_chunks(response, limit)
        finally:
            response.close()

    def _bounded_chunks(self, response: requests.Response, limit: int) -> Iterator[bytes]:
        total = 0
        try:
            for chunk in response.iter_content(chunk_size=self.options.download_chunk_bytes):
                total += len(chunk)
                if total > limit:
                    raise DownloadTooLargeError(limit)
                yield chunk
        except _RETRIED_EXCEPTIONS as exc:
            raise ServiceError("Download", response.status_code, type(exc).__name__) from None
