"""Queue triggers polled from Azure Storage (Azurite locally) with the Functions host's semantics.

A message stays invisible while it is processed, is deleted on success, becomes visible again after
host.json ``visibilityTimeout`` on failure, and after ``maxDequeueCount`` attempts moves to
``<queue>-poison``. Bodies are base64 like the host's default encoding; plain text is accepted too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import QueueMessage as StorageMessage
from azure.storage.queue.aio import QueueClient

from devhost.invoker import Invoker
from devhost.loader import FunctionInfo

log = logging.getLogger("devhost.queues")

# The host keeps a message hidden for 10 minutes while a function processes it.
PROCESSING_VISIBILITY_SECONDS = 600
MIN_POLL_SECONDS = 0.1
MAX_POLL_SECONDS = 2.0
POISON_SUFFIX = "-poison"


def connection_string(connection: str) -> str | None:
    """Resolve a binding's ``connection`` setting name like the host: plain, then AzureWebJobs-prefixed."""
    return os.environ.get(connection) or os.environ.get(f"AzureWebJobs{connection}")


def decode_body(content: str) -> bytes:
    """Base64-decoded bytes when ``content`` is valid base64 text, otherwise the text itself."""
    try:
        return base64.b64decode(content, validate=True) if content else b""
    except (binascii.Error, ValueError):
        return content.encode()


class QueueListener:
    """Polls one queue for one function."""

    def __init__(
        self,
        info: FunctionInfo,
        invoker: Invoker,
        *,
        conn_str: str,
        max_dequeue_count: int,
        visibility_timeout_seconds: int,
        batch_size: int,
        client_binding: Callable[[], str],
    ) -> None:
        self._info = info
        self._invoker = invoker
        self._max_dequeue = max_dequeue_count
        self._retry_visibility = visibility_timeout_seconds
        self._batch_size = batch_size
        self._client_binding = client_binding
        self._queue = QueueClient.from_connection_string(conn_str, info.queue_name)
        self._poison = QueueClient.from_connection_string(conn_str, info.queue_name + POISON_SUFFIX)

    async def close(self) -> None:
        """Close the storage clients."""
        await self._queue.close()
        await self._poison.close()

    async def run(self) -> None:
        """Poll forever with exponential backoff while the queue is empty or missing."""
        # Like the Functions host, create the trigger's queue at start-up so senders find it.
        try:
            await self._queue.create_queue()
        except ResourceExistsError:
            pass
        except Exception as ex:  # storage not up yet: polling below retries with backoff
            log.warning("Creating queue '%s' failed: %s", self._info.queue_name, type(ex).__name__)
        delay = MIN_POLL_SECONDS
        while True:
            try:
                handled = await self._poll_once()
            except ResourceNotFoundError:
                handled = 0
            except Exception as ex:
                log.warning("Polling queue '%s' failed: %s", self._info.queue_name, type(ex).__name__)
                handled = 0
            if handled:
                delay = MIN_POLL_SECONDS
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_POLL_SECONDS)

    async def _poll_once(self) -> int:
        messages = [
            m
            async for m in self._queue.receive_messages(
                max_messages=self._batch_size,
                messages_per_page=self._batch_size,
                visibility_timeout=PROCESSING_VISIBILITY_SECONDS,
            )
        ]
        await asyncio.gather(*(self._process(m) for m in messages))
        return len(messages)

    async def _process(self, message: StorageMessage) -> None:
        dequeue_count = int(message.dequeue_count or 1)
        if dequeue_count > self._max_dequeue:
            await self._to_poison(message)
            return
        body = decode_body(message.content if isinstance(message.content, str) else "")
        trigger = TriggerMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        kwargs: dict[str, Any] = {self._info.trigger_arg: trigger}
        for name in self._info.client_args:
            kwargs[name] = self._client_binding()
        reason = f"New queue message detected on '{self._info.queue_name}'."
        try:
            await self._invoker.call(self._info, kwargs, reason)
        except Exception:
            if dequeue_count >= self._max_dequeue:
                await self._to_poison(message)
            else:
                await self._queue.update_message(
                    message, pop_receipt=message.pop_receipt, visibility_timeout=self._retry_visibility
                )
            return
        await self._queue.delete_message(message)

    async def _to_poison(self, message: StorageMessage) -> None:
        log.warning(
            "Message %s has reached MaxDequeueCount of %d; moving it to queue '%s%s'",
            message.id,
            self._max_dequeue,
            self._info.queue_name,
            POISON_SUFFIX,
        )
        with contextlib.suppress(ResourceExistsError):
            await self._poison.create_queue()
        await self._poison.send_message(message.content)
        await self._queue.delete_message(message)
