"""The app's HTTP API v1, as the CLI calls it (``requests``; the function key in ``x-functions-key``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

KEY_HEADER = "x-functions-key"
DEFAULT_TIMEOUT_SECONDS = 60.0
FINISHED_STATUS_CODES = frozenset({200, 409, 500})
"""A status poll that answers one of these has finished (a finished document, not a service error)."""


class CliError(Exception):
    """Something the operator must fix or know; the message says what (never a key)."""


class ApiError(CliError):
    """The app answered with its error shape (``{"error": {"code", "message", "field"?}}``)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        where = f" (field {field})" if field else ""
        super().__init__(f"HTTP {status} {code}: {message}{where}")
        self.status = status
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Answer:
    """One API answer: HTTP status, JSON body (None if not JSON), the Location header if any."""

    status: int
    body: Any
    location: str | None
    text: str

    def error(self) -> ApiError:
        """The app's error, or a plain description of an answer that is not in the app's shape."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        if isinstance(error, dict) and "code" in error:
            return ApiError(self.status, str(error["code"]), str(error.get("message")), error.get("field"))
        first = self.text.strip().splitlines()[0][:200] if self.text.strip() else "no body"
        hint = " (is the function key right?)" if self.status == 401 else ""
        return ApiError(self.status, "HttpError", f"{first}{hint}")


def is_status_document(body: Any) -> bool:
    """A status document (rather than an error body): it has a requestId and a state."""
    return isinstance(body, dict) and "requestId" in body and "state" in body


class DsrClient:
    """Calls one app. ``url`` is the app's origin (``https://<app>.azurewebsites.net``) or its ``/api``."""

    def __init__(
        self,
        url: str,
        key: str | None,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        base = url.rstrip("/")
        self.api = base if base.endswith("/api") else f"{base}/api"
        self._session = session or requests.Session()
        if key:
            self._session.headers[KEY_HEADER] = key
        self._timeout = timeout

    def _call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> Answer:
        url = path if path.startswith(("http://", "https://")) else f"{self.api}/{path.lstrip('/')}"
        try:
            response = self._session.request(method, url, json=json, params=params, timeout=self._timeout)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach {self.api}: {type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        return Answer(response.status_code, body, response.headers.get("Location"), response.text)

    @staticmethod
    def _expect(answer: Answer, *statuses: int) -> Any:
        if answer.status in statuses:
            return answer.body
        raise answer.error()

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /requests``: the 202 body (``requestId``, ``created``, ``statusQueryUrl``)."""
        result: dict[str, Any] = self._expect(self._call("POST", "requests", json=body), 202)
        return result

    def status(self, request_id: str) -> Answer:
        """``GET /requests/{id}``: 202 while running; 200/409/500 with the finished document."""
        answer = self._call("GET", f"requests/{request_id}")
        if answer.status in FINISHED_STATUS_CODES | {202} and is_status_document(answer.body):
            return answer
        raise answer.error()

    def approve(self, request_id: str, by: str, decision: str, comment: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"by": by, "decision": decision}
        if comment:
            body["comment"] = comment
        result: dict[str, Any] = self._expect(
            self._call("POST", f"requests/{request_id}/approve", json=body), 202
        )
        return result

    def cancel(self, request_id: str, by: str | None, reason: str | None) -> dict[str, Any]:
        """``POST /requests/{id}/cancel``: the canceled status document."""
        body = {k: v for k, v in (("by", by), ("reason", reason)) if v}
        result: dict[str, Any] = self._expect(
            self._call("POST", f"requests/{request_id}/cancel", json=body), 200, 202
        )
        return result

    def retry(self, request_id: str) -> dict[str, Any]:
        """``POST /requests/{id}/retry``: the new attempt's number and categories."""
        result: dict[str, Any] = self._expect(self._call("POST", f"requests/{request_id}/retry"), 202)
        return result

    def requests(
        self, state: str | None = None, operation: str | None = None, page_size: int = 50
    ) -> Iterator[dict[str, Any]]:
        """``GET /requests``, following ``nextLink`` page by page."""
        params = {"pageSize": str(page_size)}
        if state:
            params["state"] = state
        if operation:
            params["operation"] = operation
        answer = self._call("GET", "requests", params=params)
        while True:
            page = self._expect(answer, 200)
            yield from page["requests"]
            if not page.get("nextLink"):
                return
            answer = self._call("GET", page["nextLink"])
