"""HTTP front of the emulator: a threaded stdlib server on loopback serving the Training API under
both ``/customvision/v3.3/training`` and ``/customvision/v3.4-preview/training``, signed blob URIs under
``/_blob/``, and the admin API under ``/_emulator/``."""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emulator import admin, render
from emulator.blobs import blob_bytes
from emulator.faults import BLOB_OPERATIONS, STATUS_OF_KIND, Injection, fault_body
from emulator.operations import ApiError, ApiRequest, ApiResponse, resolve
from emulator.render import BlobLinks
from emulator.state import Account, EmulatorState

API_PREFIXES = ("/customvision/v3.3/training", "/customvision/v3.4-preview/training")
KEY_HEADER = "Training-Key"
MAX_BODY_BYTES = 1024 * 1024


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: EmulatorState
    admin_token: str | None
    base_url: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (it timed out on a slow call, or was killed) is normal here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms per call.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines hold query strings (metadata filters, SAS signatures)."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    # -- plumbing --------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(413, "BadRequest", "body too large")
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload, separators=(",", ":")).encode(), headers=headers)

    def _reset(self) -> None:
        """Drop the connection with a TCP RST, like a load balancer resetting it mid-request."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _inject(self, injection: Injection | None) -> bool:
        """Carry out a random fault or a released hold; True when the call ends here."""
        if injection is None or injection.kind == "apply":
            return False
        if injection.kind in ("reset", "drop"):
            self._reset()
            return True
        if injection.kind == "slow":
            time.sleep(injection.slow_seconds)
            return False
        status = STATUS_OF_KIND[injection.kind]
        headers = {"Retry-After": str(injection.retry_after_seconds)} if status == 429 else None
        self._send_json(status, fault_body(injection.kind, injection.retry_after_seconds), headers=headers)
        return True

    # -- routing ---------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        try:
            body = self._read_body()
            if url.path.startswith("/_emulator/"):
                self._admin(url.path, body)
                return
            if url.path.startswith("/_blob/"):
                self._blob(url.path, dict(parse_qsl(url.query)))
                return
            for prefix in API_PREFIXES:
                if url.path.startswith(prefix + "/"):
                    self._api(url.path[len(prefix) :], url.query, body)
                    return
            raise ApiError(404, "NotFound", "Resource not found")
        except ApiError as exc:
            self._send_json(exc.status, render.error(exc.code, exc.message))

    def _authenticate(self) -> Account:
        key = self.headers.get(KEY_HEADER)
        account = self.server.state.account_for_key(key) if key else None
        if account is None:
            raise ApiError(
                401, "Unauthorized", "Access denied due to invalid training key or wrong API endpoint."
            )
        return account

    def _api(self, path: str, query_text: str, body: bytes) -> None:
        state = self.server.state
        account = self._authenticate()
        operation, handler, ids = resolve(self.command, path)
        with state.lock:
            controls = account.controls
            controls.count(operation, time.monotonic())
            wait = controls.throttle()
            if wait is not None:
                controls.throttled[operation] += 1
            fault = controls.take_fault(operation) if wait is None else None
            latency = controls.knobs.latency_seconds
        if wait is not None:
            # The APIM gateway, not the service, throttles: its body is not a CustomVisionError.
            message = (
                f"Requests to the {operation} Operation under Custom_Vision_Training_3.3 have exceeded "
                "rate limit of your current pricing tier. Please retry after 1 second."
            )
            headers = {"Retry-After": controls.retry_after_header(wait)}
            self._send_json(429, {"error": {"code": "429", "message": message}}, headers=headers)
            return
        if latency:
            time.sleep(latency)
        if fault is None and self._inject(controls.injector.before(operation)):
            return
        if fault is not None:
            if fault.kind == "reset":
                self._reset()
                return
            if fault.kind == "status":
                self._send_json(fault.status, render.error("ErrorUnknown", "Injected fault"))
                return
            time.sleep(fault.delay_seconds)
        try:
            parsed = json.loads(body) if body else None
        except ValueError as exc:
            raise ApiError(400, "BadRequest", "body is not JSON") from exc
        query = {name.lower(): value for name, value in parse_qsl(query_text, keep_blank_values=True)}
        state.settle()
        links = BlobLinks(self.server.base_url, state.sign)
        with state.lock:
            response: ApiResponse = handler(ApiRequest(state, account, ids, query, parsed, links))
        if response.body is None:
            self._send(response.status, headers=response.headers)
        else:
            self._send_json(response.status, response.body, headers=response.headers)

    def _blob(self, path: str, query: dict[str, str]) -> None:
        state = self.server.state
        if self.command != "GET":
            raise ApiError(405, "NotSupported", "blobs are read-only here")
        if not hmac.compare_digest(query.get("sig", ""), state.sign(path)):
            self._send(403, b"AuthenticationFailed", "text/plain")
            return
        parts = path.split("/")
        if len(parts) != 6:
            raise ApiError(404, "BlobNotFound", "blob not found")
        _, _, kind, project_id, item_id, variant = parts
        with state.lock:
            owner = state.find_project(project_id)
        operation = BLOB_OPERATIONS.get(kind, kind)
        if owner is not None and self._inject(owner[0].controls.injector.before(operation)):
            return
        latency = owner[0].controls.knobs.download_latency_seconds if owner else 0.0
        if latency:
            time.sleep(latency)
        state.settle()
        with state.lock:
            found = blob_bytes(state, kind, project_id, item_id, variant)
            state.blob_counters[kind] = state.blob_counters.get(kind, 0) + 1
            if self.headers.get(KEY_HEADER) is not None:
                # Real blob hosts would receive the key in such a request: tests assert this stays 0.
                state.blob_counters["withTrainingKey"] = state.blob_counters.get("withTrainingKey", 0) + 1
        if found is None:
            self._send(404, b"BlobNotFound", "text/plain")
            return
        data, content_type = found
        self._send(200, data, content_type)

    def _admin(self, path: str, body: bytes) -> None:
        token = self.server.admin_token
        supplied = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if token is None:
            raise ApiError(404, "NotFound", "admin API disabled (no admin token configured)")
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            raise ApiError(401, "Unauthorized", "admin token required")
        try:
            payload = json.loads(body) if body else {}
        except ValueError as exc:
            raise ApiError(400, "BadRequest", "body is not JSON") from exc
        status, result = admin.handle(
            self.server.state, self.command, path.removeprefix("/_emulator"), payload
        )
        self._send_json(status, result)


class EmulatorServer:
    """Runs the emulator in a background thread. ``port=0`` picks a free port.

    with EmulatorServer(state) as server:
        client = TrainingClient(server.base_url, key, ...)
    """

    def __init__(
        self, state: EmulatorState, host: str = "127.0.0.1", port: int = 0, *, admin_token: str | None = None
    ) -> None:
        if not _is_loopback(host):
            raise ValueError("the emulator only listens on loopback addresses")
        self.state = state
        self._httpd = _Server((host, port), _Handler)
        self._httpd.state = state
        self._httpd.admin_token = admin_token
        self.base_url = f"http://{host}:{self.port}"
        self._httpd.base_url = self.base_url
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> EmulatorServer:
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="cv-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
