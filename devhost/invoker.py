"""Calling user functions the way the Python worker does, with the host's execution log lines.

Async functions run on the host's one long-lived event loop: the Durable client keeps a module-global
aiohttp session bound to the first loop that used it. Sync functions run in a thread pool.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from azure.functions import meta
from azure.functions._durable_functions import OrchestrationContext
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost.loader import FunctionInfo

log = logging.getLogger("devhost.functions")


class UnsupportedBindingError(Exception):
    """The function declares a binding devhost cannot supply."""


@dataclass(frozen=True)
class ActivityResult:
    """An activity's outcome in the form the history events need."""

    succeeded: bool
    result_json: str | None = None
    reason: str | None = None
    details: str | None = None


class Invoker:
    """Runs user functions; owns the thread pools."""

    def __init__(self, *, sync_workers: int, orchestrator_workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=sync_workers, thread_name_prefix="devhost-fn")
        self._replays = ThreadPoolExecutor(
            max_workers=orchestrator_workers, thread_name_prefix="devhost-orch"
        )

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
            result = await self._run(info.user_function, kwargs)
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
        except Exception as ex:
            return ActivityResult(
                succeeded=False,
                reason=f"Activity function '{info.name}' failed: {ex}",
                details=json.dumps({"$type": type(ex).__name__, "Message": str(ex)}),
            )
        return ActivityResult(succeeded=True, result_json=encoded.value if encoded is not None else None)


def _first_line(ex: BaseException) -> str:
    text = str(ex)
    return text.splitlines()[0] if text else ""
