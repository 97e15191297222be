"""The project's one error tree.

Every error raised on purpose derives from :class:`DsrError`. The split that matters to callers is
*transient* (retrying may succeed: throttling, timeouts, 5xx) versus *permanent* (retrying cannot help:
bad input, missing resource, refused credentials). Durable retry policies retry only transient errors.

Errors carry ids (request, project, operation) and never personal data or secrets::

    DsrError
    ├── TransientError
    │   ├── storage.StorageUnavailableError        Blob Storage could not be reached or refused a write
    │   ├── secrets.SecretStoreUnavailableError    Key Vault unreachable, throttling or 5xx
    │   ├── callbacks.CallbackFailedError          the callback URL answered 5xx/429 or not at all
    │   ├── record_store.RecordConflictError       a compare-and-swap write found the blob changed
    │   └── chain.ChainBusyError                   a receipt chain head kept changing under the writer
    ├── PermanentError
    │   ├── InvalidRequestError        bad caller input; names the field (-> HTTP 400)
    │   ├── ConfigurationError         the app's own settings are wrong
    │   ├── EndpointNotAllowedError    an account endpoint outside the allow-list
    │   ├── SecretNotFoundError        the named Key Vault secret does not exist
    │   ├── RequestNotFoundError       no request with that id (-> HTTP 404)
    │   ├── RequestConflictError       a request id reused for another request, or a bad state (-> 409)
    │   ├── RequestPayloadError        a payload stored for a request (subject, callback) is unusable
    │   ├── storage.StoredFileNotFoundError     a file expected in the export container is missing
    │   ├── storage.StoredFileExistsError       a create-if-absent write lost to an earlier writer
    │   ├── storage.InvalidPageTokenError       a listing continuation token Blob Storage refused
    │   ├── secrets.SecretAccessDeniedError     the app's identity may not read the secret
    │   └── secrets.SecretStoreRequestError     Key Vault refused the request as malformed
    └── customvision.errors.CustomVisionError   (Training API errors; see that module: each is also
                                                 a TransientError or a PermanentError)
"""

from __future__ import annotations


class DsrError(Exception):
    """Base of every error this project raises on purpose."""

    transient: bool = False


class TransientError(DsrError):
    """A failure that may succeed when retried (throttling, timeouts, 5xx, resets)."""

    transient = True


class PermanentError(DsrError):
    """A failure that retrying cannot fix."""


class InvalidRequestError(PermanentError):
    """Caller input failed validation. ``field`` is the JSON path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConfigurationError(PermanentError):
    """An application setting is missing or malformed."""


class EndpointNotAllowedError(PermanentError):
    """A Custom Vision endpoint is not on the allow-list, so no key may be sent to it."""

    def __init__(self, endpoint_host: str) -> None:
        super().__init__(f"endpoint host {endpoint_host!r} is not on the allow-list")
        self.endpoint_host = endpoint_host


class SecretNotFoundError(PermanentError):
    """The Key Vault secret named by a request does not exist (or is disabled)."""

    def __init__(self, secret_name: str) -> None:
        super().__init__(f"secret {secret_name!r} was not found in Key Vault")
        self.secret_name = secret_name


class RequestNotFoundError(PermanentError):
    """No data-subject request exists with the given id."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id!r} was not found")
        self.request_id = request_id


class RequestConflictError(PermanentError):
    """A request id was reused for a different request (-> HTTP 409)."""

    def __init__(self, request_id: str, reason: str) -> None:
        super().__init__(f"request {request_id!r}: {reason}")
        self.request_id = request_id
        self.reason = reason


class RequestPayloadError(PermanentError):
    """A payload kept out of Durable history for a request (subject metadata, callback URL) is missing
    or malformed in storage."""

    def __init__(self, request_id: str, payload: str) -> None:
        super().__init__(f"request {request_id!r}: stored {payload} payload is unusable")
        self.request_id = request_id
        self.payload = payload
