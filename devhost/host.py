"""The host: wires settings, the function index, the durable engine, HTTP servers and queue listeners."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web
from azure.durable_functions.models.utils import http_utils

from devhost.auth import allows_admin, allows_webhook
from devhost.client_binding import RPC_PATH, WEBHOOK_PATH, DurableUrls
from devhost.config import HostSettings, load_local_settings, load_settings
from devhost.dispatcher import Dispatcher
from devhost.durable_api import DurableApi
from devhost.http_triggers import HttpTriggers
from devhost.invoker import Invoker
from devhost.loader import FunctionIndex, load_app
from devhost.queues import QueueListener, connection_string
from devhost.store import Store
from devhost.timers import timer_listeners

log = logging.getLogger("devhost")

# The Functions host accepts request bodies up to 100 MB.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
STARTUP_TIMEOUT_SECONDS = 30


def _ci(*segments: str) -> str:
    """An aiohttp path whose fixed segments match case-insensitively, as ASP.NET routing does."""
    return "".join(f"/{{_s{i}:(?i:{re.escape(seg)})}}" for i, seg in enumerate(segments))


async def _close_durable_client_session() -> None:
    """Close and forget the Durable client's module-global aiohttp session, bound to the loop that made it.

    Only matters when one process runs hosts on successive event loops (tests); the worker has one loop.
    """
    session = http_utils._client_session
    http_utils._client_session = None
    if session is not None and not session.closed:
        await session.close()


class Host:
    """A running local Functions host. ``await start()``, then use ``url``; ``await stop()`` at the end."""

    def __init__(
        self,
        app_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 7071,
        rpc_port: int = 17071,
        state_dir: Path | str | None = None,
        function_key: str | None = None,
        system_key: str | None = None,
        master_key: str | None = None,
        fast_timers: bool | None = None,
        reuse_port: bool = False,
        run_timers: bool = True,
    ) -> None:
        self._app_dir = Path(app_dir).resolve()
        self._options = {
            "host": host,
            "port": port,
            "rpc_port": rpc_port,
            "state_dir": Path(state_dir) if state_dir is not None else None,
            "function_key": function_key,
            "system_key": system_key,
            "master_key": master_key,
            "fast_timers": fast_timers,
            "reuse_port": reuse_port,
        }
        # Azure runs a timer function as a singleton across instances: in scale-out, one instance does.
        self._run_timers = run_timers
        self._runners: list[web.AppRunner] = []
        self._listeners: list[QueueListener] = []
        self._listener_tasks: list[asyncio.Task[None]] = []
        self._started_at = time.monotonic()
        self._host_id = uuid.uuid4().hex
        self.settings: HostSettings | None = None
        self.index: FunctionIndex | None = None
        self.dispatcher: Dispatcher | None = None
        self._store: Store | None = None
        self._invoker: Invoker | None = None
        self._urls: DurableUrls | None = None

    @property
    def url(self) -> str:
        """Origin of the main HTTP port, e.g. ``http://127.0.0.1:7071``."""
        assert self._urls is not None, "host not started"
        return self._urls.origin

    @property
    def rpc_url(self) -> str:
        """Origin of the Durable RPC port."""
        assert self._urls is not None, "host not started"
        return self._urls.rpc_origin

    def durable_urls(self) -> DurableUrls:
        """The Durable API addresses of the started host."""
        assert self._urls is not None, "host not started"
        return self._urls

    async def start(self) -> None:
        """Load the app, open the state store, bind the ports and resume pending work."""
        load_local_settings(self._app_dir)
        opts = self._options

        def text(name: str) -> str | None:
            value = opts[name]
            return value if isinstance(value, str) else None

        settings = load_settings(
            self._app_dir,
            host=str(opts["host"]),
            port=int(str(opts["port"])),
            rpc_port=int(str(opts["rpc_port"])),
            state_dir=opts["state_dir"] if isinstance(opts["state_dir"], Path) else None,
            function_key=text("function_key"),
            system_key=text("system_key"),
            master_key=text("master_key"),
            fast_timers=opts["fast_timers"] if isinstance(opts["fast_timers"], bool) else None,
            reuse_port=opts["reuse_port"] is True,
        )
        self.settings = settings
        http_utils._client_session = None
        self.index = index = load_app(settings.app_dir)
        self._store = store = Store(settings.db_path)
        self._invoker = invoker = Invoker(
            sync_workers=settings.max_concurrent_activities + 8,
            orchestrator_workers=max(1, min(settings.max_concurrent_orchestrations, os.cpu_count() or 1)),
            function_timeout=settings.function_timeout,
        )
        # Timer schedules are checked before any port is bound: a schedule devhost cannot honour stops it.
        try:
            timers = timer_listeners(index.timers, invoker, lambda: self.durable_urls().binding_json())
        except Exception:
            invoker.shutdown()
            store.close()
            raise
        self.dispatcher = dispatcher = Dispatcher(
            store,
            index,
            invoker,
            max_activities=settings.max_concurrent_activities,
            max_orchestrations=settings.max_concurrent_orchestrations,
            fast_timers=settings.fast_timers,
        )
        durable_api = DurableApi(store, dispatcher, index, self.durable_urls)
        triggers = HttpTriggers(
            index,
            invoker,
            keys=settings.keys,
            client_binding=lambda: self.durable_urls().binding_json(),
        )
        main = web.Application(client_max_size=MAX_REQUEST_BYTES)
        main.router.add_get(_ci("admin", "host", "status"), self._status)
        webhook = _ci(*WEBHOOK_PATH.strip("/").split("/"))
        main.router.add_route("*", webhook + "/{tail:.*}", self._guarded(durable_api.handle))
        prefix = _ci(*settings.route_prefix.split("/")) if settings.route_prefix else ""
        main.router.add_route("*", prefix + "/{tail:.*}", triggers.handle)
        if prefix:
            main.router.add_route("*", prefix, triggers.handle)
        rpc = web.Application(client_max_size=MAX_REQUEST_BYTES)
        rpc.router.add_route("*", RPC_PATH + "{tail:.*}", durable_api.handle)
        port = await self._serve(main, settings.host, settings.port)
        rpc_port = await self._serve(rpc, settings.host, settings.rpc_port)
        self._urls = DurableUrls(
            origin=f"http://{settings.host}:{port}",
            rpc_origin=f"http://{settings.host}:{rpc_port}",
            hub_name=settings.hub_name,
            system_key=settings.keys.system or None,
        )
        await dispatcher.start()
        self._start_queue_listeners(settings, index, invoker)
        if self._run_timers:
            self._listener_tasks += [asyncio.create_task(timer.run()) for timer in timers]
        names = ", ".join(f.name for f in index.all())
        log.info("Host started on %s (rpc %s); functions: %s", self.url, self.rpc_url, names)

    def _guarded(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Webhooks on the main port need the system or master key (the RPC port is local only)."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            assert self.settings is not None
            keys = self.settings.keys
            if keys.enabled and not allows_webhook(request, keys):
                return web.Response(status=401)
            return await handler(request)

        return guarded

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        # Scale-out instances share the ports; the kernel spreads connections over them.
        reuse = self.settings is not None and self.settings.reuse_port
        site = web.TCPSite(runner, host, port, reuse_port=reuse or None)
        await site.start()
        self._runners.append(runner)
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    def _start_queue_listeners(self, settings: HostSettings, index: FunctionIndex, invoker: Invoker) -> None:
        for info in index.queues:
            conn = connection_string(info.connection)
            if not conn:
                log.error(
                    "Queue function %s: connection setting '%s' is not set; not listening",
                    info.name,
                    info.connection,
                )
                continue
            listener = QueueListener(
                info,
                invoker,
                conn_str=conn,
                max_dequeue_count=settings.queue_max_dequeue_count,
                visibility_timeout_seconds=int(settings.queue_visibility_timeout.total_seconds()),
                batch_size=settings.queue_batch_size,
                new_batch_threshold=settings.queue_new_batch_threshold,
                max_polling_seconds=settings.queue_max_polling_interval.total_seconds(),
                encoding=settings.queue_message_encoding,
                client_binding=lambda: self.durable_urls().binding_json(),
            )
            self._listeners.append(listener)
            self._listener_tasks.append(asyncio.create_task(listener.run()))

    async def _status(self, request: web.Request) -> web.Response:
        assert self.settings is not None
        assert self._store is not None
        if self.settings.keys.enabled and not allows_admin(request, self.settings.keys):
            return web.Response(status=401)
        return web.json_response(
            {
                "id": self._host_id,
                "state": "Running",
                "version": "devhost",
                "processUptime": int((time.monotonic() - self._started_at) * 1000),
                "processId": os.getpid(),
                "instances": self._store.worker_count(),
            }
        )

    async def stop(self) -> None:
        """Stop listening and working; pending durable work stays in the store for the next start."""
        for task in self._listener_tasks:
            task.cancel()
        for task in self._listener_tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for listener in self._listeners:
            await listener.close()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        for runner in self._runners:
            await runner.cleanup()
        await _close_durable_client_session()
        if self._invoker is not None:
            self._invoker.shutdown()
        if self._store is not None:
            self._store.close()
        self._runners.clear()

    async def serve_forever(self) -> None:
        """Start and run until cancelled."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()


class BackgroundHost:
    """Runs a ``Host`` on its own event loop in a daemon thread, for synchronous callers such as tests."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="devhost-loop", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.host.start(), self._loop)
        future.result(timeout=STARTUP_TIMEOUT_SECONDS)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.host.stop(), self._loop).result(timeout=STARTUP_TIMEOUT_SECONDS)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        self._loop.close()
