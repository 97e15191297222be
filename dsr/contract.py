"""The public request contract (v1): validation of ``POST /api/requests`` bodies and queue messages.

Input is validated here, once, at the edge. Errors name the offending field (a JSON path) and never echo
the submitted value, which may be personal data. The result is a plain-JSON :class:`DsrRequest`
dictionary that is safe to pass through Durable Functions (it holds a secret *name*, never a key).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dsr.categories import ALL_CATEGORIES, SUBJECT_SCOPED, Category, ordered
from dsr.customvision import MIN_RATE_LIMIT_PER_SECOND, canonical_origin, metadata_problem
from dsr.errors import EndpointNotAllowedError, InvalidRequestError
from dsr.layout import SHARED_FOLDERS
from dsr.times import format_time
from dsr.untrusted_json import is_plain_text

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SECRET_NAME_PATTERN = re.compile(r"[0-9A-Za-z-]{1,127}")  # Key Vault secret name rules
MAX_METADATA_PAIRS = 10  # the 3.4-preview per-image metadata limit; v3.3 allows 50
MAX_PROJECT_IDS = 100  # S0 project limit
MAX_APPLICATION_LENGTH = 256
MAX_CALLS_PER_SECOND = 1000.0  # far above any Custom Vision tier; guards against typos
MAX_EXTENSION_MONTHS = 2  # GDPR Art. 12(3): "extended by two further months where necessary"
MAX_EXTENSION_REASON_LENGTH = 500
RFC3339_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})")
"""An RFC 3339 date-time with its offset (section 5.6): what ``subject.predictions.from``/``to`` take."""
RFC3339_FRACTION = re.compile(r":\d{2}\.(\d+)")
INSTANCE_ID_PREFIX = "dsr-"

Operation = Literal["export", "delete"]


class SubjectScope(TypedDict):
    """Who a request is about. Before the request enters Durable Functions, ``metadata`` (personal data)
    is moved to a blob (``metadataFile``) and set to None, so orchestration history never holds it."""

    metadata: dict[str, str] | None
    metadataKeys: list[str]
    metadataFile: str | None
    predictions: dict[str, str | None] | None


class DeadlineExtension(TypedDict):
    """A GDPR Art. 12(3) extension of the one-month deadline, with the reason given to the subject."""

    months: int
    reason: str


class AccountRef(TypedDict):
    endpoint: str
    trainingKeySecret: str
    callsPerSecond: NotRequired[float]
    """The account's Training API budget for this request; absent: the app's default (10)."""


class DsrRequest(TypedDict):
    """A validated request, as plain JSON. Passed to the orchestrator as its input."""

    requestId: str
    operation: Operation
    account: AccountRef
    categories: list[str]
    projectIds: list[str] | None
    subject: SubjectScope | None
    dryRun: bool
    zip: bool
    """Export only: also deliver the package as one zip with a time-limited read-only link."""
    callbackUrl: str | None
    """Set at intake only: moved to a blob (``callbackFile``) before the orchestration starts, since
    a callback URL may carry a signature (SAS ``sig=``) that must not sit in Durable history."""
    callbackFile: str | None
    callbackHost: str | None
    """The callback's host, the one part of it shown in status documents."""
    extension: DeadlineExtension | None
    fingerprint: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Account(_Strict):
    endpoint: str = Field(min_length=8, max_length=256)
    trainingKeySecret: str
    callsPerSecond: float | None = Field(default=None, ge=MIN_RATE_LIMIT_PER_SECOND, le=MAX_CALLS_PER_SECOND)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_shape(cls, value: str) -> str:
        try:
            return canonical_origin(value)
        except EndpointNotAllowedError:
            raise ValueError(
                "must be a bare https:// origin (scheme, host, optional port; no path, query, "
                "fragment or user info)"
            ) from None

    @field_validator("trainingKeySecret")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        if not SECRET_NAME_PATTERN.fullmatch(value):
            raise ValueError("must be a Key Vault secret name (1-127 letters, digits, dashes)")
        return value


_BAD_TIME = "must be an RFC 3339 date-time with a time zone, e.g. 2026-01-01T00:00:00Z"
EARLIEST_WINDOW = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_WINDOW = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""The moments a prediction window can name: status documents write them to the second, with a
four-digit year (:func:`dsr.times.format_time`)."""


def _rfc3339(value: str | None) -> datetime | None:
    """The UTC moment ``value`` names, to the second; refused if a fraction would be dropped (a
    delete's window would begin early and take other people's predictions of that second)."""
    if value is None:
        return None
    if not RFC3339_PATTERN.fullmatch(value):
        raise ValueError(_BAD_TIME)
    try:
        moment = datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: past year 9999 or before year 1 in UTC
        raise ValueError(_BAD_TIME) from None
    fraction = RFC3339_FRACTION.search(value)
    if fraction is not None and fraction.group(1).strip("0"):
        raise ValueError("must name a whole second (no fraction)")
    if not EARLIEST_WINDOW <= moment <= LATEST_WINDOW:
        raise ValueError("must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z")
    return moment


class _Predictions(_Strict):
    application: str | None = Field(default=None, min_length=1, max_length=MAX_APPLICATION_LENGTH)
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    @field_validator("from_", "to")
    @classmethod
    def _moment(cls, value: str | None) -> str | None:
        _rfc3339(value)
        return value

    @field_validator("application")
    @classmethod
    def _application(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("must be printable text")
        return value

    @model_validator(mode="after")
    def _window(self) -> _Predictions:
        start, end = _rfc3339(self.from_), _rfc3339(self.to)
        if start and end and start >= end:
            raise ValueError("'from' must be before 'to'")
        if self.application is None and start is None and end is None:
            raise ValueError("give at least one of application, from, to")
        return self


class _Subject(_Strict):
    metadata: dict[str, str]
    predictions: _Predictions | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        if not 1 <= len(value) <= MAX_METADATA_PAIRS:
            raise ValueError(f"must hold 1 to {MAX_METADATA_PAIRS} key/value pairs")
        problem = metadata_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class _Extension(_Strict):
    months: int = Field(ge=1, le=MAX_EXTENSION_MONTHS)
    reason: str = Field(min_length=1, max_length=MAX_EXTENSION_REASON_LENGTH)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        # Told to the data subject and shown in the status document: the rule of an approval's comment
        # and a cancel's reason (triggers/approval.py), so it cannot read as something else than sent.
        if not is_plain_text(value, lines=True) or not value.strip():
            raise ValueError(
                "must be printable text (line breaks allowed, no other control or bidi character), not blank"
            )
        return value


class _Request(_Strict):
    requestId: str | None = None
    operation: Operation
    account: _Account
    categories: list[Category] | None = Field(default=None, min_length=1)
    projectIds: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=MAX_PROJECT_IDS)

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    subject: _Subject | None = None
    dryRun: bool = False
    zip: bool = False  # strict model: a JSON true/false only, "true" or 1 are refused
    callbackUrl: str | None = Field(default=None, max_length=2048)
    extension: _Extension | None = None

    @field_validator("requestId")
    @classmethod
    def _request_id(cls, value: str | None) -> str | None:
        if value is not None and not REQUEST_ID_PATTERN.fullmatch(value):
            raise ValueError("must be 1-64 letters, digits or . _ - and start with a letter or digit")
        if value in SHARED_FOLDERS:
            raise ValueError(f"is reserved: {', '.join(sorted(SHARED_FOLDERS))} name shared folders")
        return value

    @field_validator("categories")
    @classmethod
    def _distinct_categories(cls, value: list[Category] | None) -> list[Category] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("must not name a category twice")
        return value

    @field_validator("projectIds")
    @classmethod
    def _distinct_projects(cls, value: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("must not name a project twice")
        return value

    @field_validator("callbackUrl")
    @classmethod
    def _callback(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or not value.isprintable():
            raise ValueError("must be an https:// URL")  # http only for allow-listed local origins
        if parts.username is not None or parts.fragment or "#" in value:
            raise ValueError("must not carry user info or a fragment")
        return value


METADATA_FIELD = "subject.metadata"


def _first_error(exc: ValidationError) -> InvalidRequestError:
    error = exc.errors(include_url=False, include_input=False)[0]
    location = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-after"))
    location = location.replace("from_", "from") or "body"
    if location.startswith(f"{METADATA_FIELD}."):  # the rest of the path is a metadata key: personal data
        location = METADATA_FIELD
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif str(error["type"]).startswith("uuid_"):  # pydantic's would quote a character of the input
        message = "must be a UUID string (8-4-4-4-12 hexadecimal digits)"
    elif error["type"] == "missing":
        message = "is required"
    elif error["type"] == "json_invalid":
        # The body was read already; re-read here, only an escaped lone surrogate (which Python's
        # parser keeps) is not JSON text. Pydantic's message would point into the re-serialised body.
        location, message = "body", "must not hold an unpaired surrogate escape (\\ud800-\\udfff)"
    return InvalidRequestError(location, message)


def _fingerprint(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def parse_request(body: object, *, new_id: str | None = None) -> DsrRequest:
    """Validate a request body; raise :class:`InvalidRequestError` naming the first bad field.

    ``new_id`` is used when the body carries no ``requestId`` (default: a random UUID).
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("body", "must be a JSON object")
    try:
        # JSON-mode strict validation: JSON booleans only for booleans, strings for ids and enums.
        model = _Request.model_validate_json(json.dumps(body))
    except ValidationError as exc:
        raise _first_error(exc) from None

    if model.subject is not None and model.operation == "delete" and model.categories is not None:
        outside = [c.value for c in model.categories if c not in SUBJECT_SCOPED]
        if outside:
            raise InvalidRequestError(
                "categories",
                f"{', '.join(outside)} cannot be limited to one data subject; a subject-scoped delete "
                "may name only images and predictions",
            )
    if model.dryRun and model.operation != "delete":
        raise InvalidRequestError("dryRun", "applies to delete requests only")
    if model.zip and model.operation != "export":
        raise InvalidRequestError("zip", "applies to export requests only")

    if model.categories is not None:
        categories = ordered(set(model.categories))
    elif model.subject is not None:
        categories = ordered(set(SUBJECT_SCOPED))
    else:
        categories = list(ALL_CATEGORIES)

    subject: SubjectScope | None = None
    if model.subject is not None:
        narrowing = model.subject.predictions
        subject = {
            "metadata": dict(model.subject.metadata),
            "metadataKeys": sorted(model.subject.metadata),
            "metadataFile": None,
            "predictions": None
            if narrowing is None
            else {
                "application": narrowing.application,
                "from": _iso(_rfc3339(narrowing.from_)),
                "to": _iso(_rfc3339(narrowing.to)),
            },
        }

    account: AccountRef = {
        "endpoint": model.account.endpoint,
        "trainingKeySecret": model.account.trainingKeySecret,
    }
    if model.account.callsPerSecond is not None:
        account["callsPerSecond"] = float(model.account.callsPerSecond)
    project_ids = None if model.projectIds is None else sorted({str(p) for p in model.projectIds})
    category_names = [c.value for c in categories]
    extension: DeadlineExtension | None = (
        None
        if model.extension is None
        else {"months": model.extension.months, "reason": model.extension.reason}
    )
    fingerprinted: dict[str, Any] = {
        "operation": model.operation,
        "account": dict(account),
        "categories": category_names,
        "projectIds": project_ids,
        "subject": subject,
        "dryRun": model.dryRun,
        "callbackUrl": model.callbackUrl,
    }
    if extension is not None:  # only when set, so requests without one keep their fingerprint
        fingerprinted["extension"] = extension
    if model.zip:  # likewise
        fingerprinted["zip"] = True
    fingerprint = _fingerprint(fingerprinted)
    return DsrRequest(
        requestId=model.requestId or new_id or str(uuid.uuid4()),
        operation=model.operation,
        account=account,
        categories=category_names,
        projectIds=project_ids,
        subject=subject,
        dryRun=model.dryRun,
        zip=model.zip,
        callbackUrl=model.callbackUrl,
        extension=extension,
        callbackFile=None,
        callbackHost=None if model.callbackUrl is None else urlsplit(model.callbackUrl).hostname,
        fingerprint=fingerprint,
    )


def instance_id_for(request_id: str) -> str:
    """The Durable instance id of a request: derived from its id so resubmitting never runs it twice."""
    if not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise InvalidRequestError("requestId", "is not a valid request id")
    return INSTANCE_ID_PREFIX + request_id
