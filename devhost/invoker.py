"""Calling user functions the way the Python worker does, with the host's execution log lines.

Async functions run on the host's one long-lived event loop: the Durable client keeps a module-global
aiohttp session bound to the first loop that used it. Sync functions run in a thread pool.

host.json ``functionTimeout`` is enforced as in Azure: the call past the limit fails with the WebJobs
SDK's timeout message, and the host then restarts the language worker, so every other call running
on it fails too. devhost cannot kill a Python thread: a restart abandons the running calls (their late
results are discarded) and starts a fresh thread pool.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from azure.functions import meta
from azure.functions._durable_functions import OrchestrationContext
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost.failures import activity_failure, activity_timeout, timeout_message, timespan_text
from devhost.loader import FunctionInfo

log = logging.getLogger("devhost.functions")


class UnsupportedBindingError(Exception):
    """The function declares a binding devhost cannot supply."""


class FunctionTimeoutError(Exception):
    """The call ran past host.json functionTimeout (the WebJobs SDK's FunctionTimeoutException)."""


class WorkerRestartedError(Exception):
    """The call was running on the worker when another call's timeout restarted it."""


@dataclass(frozen=True)
class ActivityResult:
    """An activity's outcome in the form the history events need."""

    succeeded: bool
    result_json: str | None = None
    reason: str | None = None
    details: str | None = None
    aborted: bool = False
    """The worker restarted under the call: Azure abandons the work item and runs it again."""


class Invoker:
    """Runs user functions; owns the thread pools."""

    def __init__(
        self, *, sync_workers: int, orchestrator_workers: int, function_timeout: timedelta | None = None
    ) -> None:
        self._sync_workers = sync_workers
        self._pool = ThreadPoolExecutor(max_workers=sync_workers, thread_name_prefix="devhost-fn")
        self._replays = ThreadPoolExecutor(
            max_workers=orchestrator_workers, thread_name_prefix="devhost-orch"
        )
        self._timeout = function_timeout
        self._restart: asyncio.Future[None] | None = None
        self.restarts = 0

    def shutdown(self) -> None:
        """Stop the thread pools without waiting for running user code."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._replays.shutdown(wait=False, cancel_futures=True)

    async def call(self, info: FunctionInfo, kwargs: dict[str, Any], reason: str) -> Any:
        """Invoke ``info``'s user function with the execution log lines; exceptions propagate."""
        if info.unsupported_bindings:
            raise UnsupportedBindingError(
                f"devhost cannot supply binding(s) {', '.join(info.unsupported_bindings)} of {info.name}"
            )
        invocation_id = str(uuid.uuid4())
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", info.name, reason, invocation_id)
        started = time.perf_counter()
        try:
            result = await self._guarded(info, invocation_id, kwargs)
        except BaseException as ex:
            elapsed = (time.perf_counter() - started) * 1000
            log.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms): %s: %s",
                info.name,
                invocation_id,
                elapsed,
                type(ex).__name__,
                _first_line(ex),
            )
            raise
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", info.name, invocation_id, elapsed
        )
        return result

    async def _guarded(self, info: FunctionInfo, invocation_id: str, kwargs: dict[str, Any]) -> Any:
        """Run the call unless functionTimeout passes or the worker restarts under it first."""
        loop = asyncio.get_running_loop()
        if self._restart is None or self._restart.done():
            self._restart = loop.create_future()
        restart = self._restart
        call = asyncio.ensure_future(self._run(info.user_function, kwargs))
        timeout = self._timeout.total_seconds() if self._timeout is not None else None
        done, _ = await asyncio.wait({call, restart}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if call in done:
            return call.result()
        call.cancel()  # stops async code; a sync function's thread is abandoned with the old pool
        # Its late outcome is discarded; fetching it keeps asyncio from reporting it as never retrieved.
        call.add_done_callback(lambda task: task.cancelled() or task.exception())
        if restart.done():  # another call's timeout restarted the worker first
            raise WorkerRestartedError("The language worker process restarted while the function was running")
        assert self._timeout is not None, "only a timeout ends the wait otherwise"
        log.error(
            "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). Initiating cancellation.",
            timespan_text(self._timeout),
            info.name,
            invocation_id,
        )
        log.error(
            "A function timeout has occurred. Restarting worker process executing invocationId '%s'.",
            invocation_id,
        )
        self._restart_worker()
        raise FunctionTimeoutError(timeout_message(info.name, self._timeout))

    def _restart_worker(self) -> None:
        # Fail every other running call, and give new calls threads that no abandoned call holds.
        if self._restart is not None and not self._restart.done():
            self._restart.set_result(None)
        self._restart = None
        old, self._pool = (
            self._pool,
            ThreadPoolExecutor(max_workers=self._sync_workers, thread_name_prefix="devhost-fn"),
        )
        old.shutdown(wait=False, cancel_futures=True)
        self.restarts += 1

    async def _run(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(fn):
            return await fn(**kwargs)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._pool, lambda: fn(**kwargs))
        if inspect.isawaitable(result):
            return await result
        return result

    async def replay(self, info: FunctionInfo, context_json: str) -> str | BaseException:
        """Run one orchestrator episode through the SDK handle; its exception is a result, not an error.

        The handle's parameter is always named ``context`` whatever the binding name is.
        """
        handle = info.user_function
        loop = asyncio.get_running_loop()
        invocation_id = str(uuid.uuid4())
        log.info("Executing 'Functions.%s' (Reason='(null)', Id=%s)", info.name, invocation_id)
        started = time.perf_counter()
        try:
            result = await loop.run_in_executor(
                self._replays, lambda: handle(context=OrchestrationContext(context_json))
            )
        except Exception as ex:
            result = ex
        # A user exception is reported through the episode's outcome; the replay itself succeeded.
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", info.name, invocation_id, elapsed
        )
        return result if isinstance(result, BaseException) else str(result)

    async def run_activity(self, info: FunctionInfo, input_json: str | None) -> ActivityResult:
        """Run an activity with the SDK's own trigger converter on both sides."""
        try:
            argument = ActivityTriggerConverter.decode(
                meta.Datum(type="json", value=input_json if input_json is not None else "null"),
                trigger_metadata=None,
            )
            value = await self.call(info, {info.trigger_arg: argument}, "(null)")
            encoded = ActivityTriggerConverter.encode(value, expected_type=None)
        except WorkerRestartedError:
            return ActivityResult(succeeded=False, aborted=True)
        except FunctionTimeoutError:
            assert self._timeout is not None, "a timeout needs a configured functionTimeout"
            reason, details = activity_timeout(info.name, self._timeout)
            return ActivityResult(succeeded=False, reason=reason, details=details)
        except Exception as ex:
            reason, details = activity_failure(info.name, ex)
            return ActivityResult(succeeded=False, reason=reason, details=details)
        return ActivityResult(succeeded=True, result_json=encoded.value if encoded is not None else None)


def _first_line(ex: BaseException) -> str:
    text = str(ex)
    return text.splitlines()[0] if text else ""
