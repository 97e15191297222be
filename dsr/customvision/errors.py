"""Errors raised by the Custom Vision Training API client.

Every class derives from :class:`dsr.errors.DsrError` through :class:`CustomVisionError`, and also from
``TransientError`` or ``PermanentError`` so Durable retry policies can tell them apart::

    CustomVisionError(DsrError)                 code, status, operation (never the key, never a URL query)
    ├── AuthenticationError(PermanentError)      401: wrong or revoked training key
    ├── ForbiddenError(PermanentError)           403 or a Forbidden* code
    ├── NotFoundError(PermanentError)            404 or a NotFound* code (callers decide if "already gone")
    ├── BadRequestError(PermanentError)          400 / other 4xx
    │   └── IterationPublishedError              BadRequestIterationIsPublished: unpublish first
    ├── ConflictError(PermanentError)            409 or a Conflict* code
    ├── UnexpectedResponseError(PermanentError)  a 2xx body of the wrong shape
    ├── DownloadTooLargeError(PermanentError)    a blob larger than ClientOptions.max_download_bytes
    ├── ThrottledError(TransientError)           429 after the retry budget was spent
    └── ServiceError(TransientError)             5xx, reset or timeout after the retry budget was spent

The service's ``message`` is deliberately not kept: it may echo request input (metadata values, ids of a
data subject), and these errors end up in logs and status documents.
"""

from __future__ import annotations

from dsr.errors import DsrError, PermanentError, TransientError

ITERATION_IS_PUBLISHED = "BadRequestIterationIsPublished"


class CustomVisionError(DsrError):
    """A Training API call failed. ``code`` is the service's error code (or a synthetic one)."""

    def __init__(self, operation: str, status: int | None, code: str, *, attempts: int = 1) -> None:
        status_text = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"Custom Vision {operation} failed: {status_text} {code}")
        self.operation = operation
        self.status = status
        self.code = code
        self.attempts = attempts


class AuthenticationError(CustomVisionError, PermanentError):
    """The training key was refused (401)."""


class ForbiddenError(CustomVisionError, PermanentError):
    """The key may not do this (403, or a ``Forbidden*`` code such as ``ForbiddenDRModeEnabled``)."""


class NotFoundError(CustomVisionError, PermanentError):
    """The project, iteration, tag, image or blob does not exist (``NotFound*`` codes)."""


class BadRequestError(CustomVisionError, PermanentError):
    """The service rejected the request (400 and other unmapped 4xx)."""


class IterationPublishedError(BadRequestError):
    """The iteration is published; call ``unpublish_iteration`` before deleting it."""


class ConflictError(CustomVisionError, PermanentError):
    """The resource is in a conflicting state (409 or ``Conflict*`` codes)."""


class UnexpectedResponseError(CustomVisionError, PermanentError):
    """A successful response whose body does not have the documented shape."""

    def __init__(self, operation: str, status: int | None, detail: str) -> None:
        super().__init__(operation, status, "UnexpectedResponse")
        self.detail = detail
        self.args = (f"Custom Vision {operation}: unexpected response ({detail})",)


class DownloadTooLargeError(CustomVisionError, PermanentError):
    """A downloaded blob exceeded the configured size bound."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__("Download", None, "DownloadTooLarge")
        self.limit_bytes = limit_bytes
        self.args = (f"download exceeded {limit_bytes} bytes",)


class ThrottledError(CustomVisionError, TransientError):
    """Still throttled (429) when the retry budget ran out. ``retry_after`` is the last server hint."""

    def __init__(
        self, operation: str, status: int | None, code: str, *, attempts: int = 1, retry_after: float | None
    ) -> None:
        super().__init__(operation, status, code, attempts=attempts)
        self.retry_after = retry_after


class ServiceError(CustomVisionError, TransientError):
    """A 5xx, connection reset or timeout that outlasted the retry budget."""
