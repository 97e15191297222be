"""Queue triggers polled from Azure Storage (Azurite locally) with the WebJobs queue extension's semantics.

- Names are lower-cased; the trigger's queue is never created (senders create it; a missing queue
  polls as empty). ``<queue>-poison`` is created when the first message moves there.
- host.json ``messageEncoding`` decides the body: ``base64`` (the default) decodes it, and a body that
  is not valid base64 moves to ``-poison`` without running the function; ``none`` passes the text.
- A batch of ``batchSize`` is fetched whenever ``newBatchThreshold`` or fewer messages are in flight;
  an empty poll backs off exponentially (randomized) from 100 ms up to ``maxPollingInterval``.
- A message stays invisible for 10 minutes while it is processed, renewed every 5 minutes; it is
  deleted on success, made visible again after ``visibilityTimeout`` on failure, and moved to
  ``-poison`` when its ``maxDequeueCount``-th attempt fails (or it arrives above the count).
Sources: docs/devhost.md, "Queues".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import random
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import QueueMessage as StorageMessage
from azure.storage.queue.aio import QueueClient

from devhost.invoker import Invoker
from devhost.loader import FunctionInfo

log = logging.getLogger("devhost.queues")

PROCESSING_VISIBILITY_SECONDS = 600
RENEW_EVERY_SECONDS = PROCESSING_VISIBILITY_SECONDS / 2
MIN_POLL_SECONDS = 0.1
MAX_BATCH = 32  # the Queue service returns at most 32 messages per call
POISON_SUFFIX = "-poison"


class UndecodableMessageError(Exception):
    """The body does not decode with the configured messageEncoding."""


def connection_string(connection: str) -> str | None:
    """Resolve a binding's ``connection`` setting name like the host: plain, then AzureWebJobs-prefixed."""
    return os.environ.get(connection) or os.environ.get(f"AzureWebJobs{connection}")


def decode_body(content: str, encoding: str) -> bytes:
    """The message body as the trigger sees it under ``encoding`` ("base64" or "none")."""
    if encoding == "none":
        return content.encode()
    try:
        return base64.b64decode(content, validate=True) if content else b""
    except (binascii.Error, ValueError) as ex:
        raise UndecodableMessageError("the message is not valid base64") from ex


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
        new_batch_threshold: int,
        max_polling_seconds: float,
        encoding: str,
        client_binding: Callable[[], str],
    ) -> None:
        self._info = info
        self._invoker = invoker
        self._max_dequeue = max_dequeue_count
        self._retry_visibility = visibility_timeout_seconds
        self._batch_size = min(batch_size, MAX_BATCH)
        self._threshold = new_batch_threshold
        self._max_poll = max(max_polling_seconds, MIN_POLL_SECONDS)
        self._encoding = encoding
        self._client_binding = client_binding
        self.queue_name = info.queue_name.lower()
        self._queue = QueueClient.from_connection_string(conn_str, self.queue_name)
        self._poison = QueueClient.from_connection_string(conn_str, self.queue_name + POISON_SUFFIX)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()

    async def close(self) -> None:
        """Stop the messages in flight (they become visible again, as on a host shutdown) and close."""
        for task in list(self._in_flight):
            task.cancel()
        for task in list(self._in_flight):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._queue.close()
        await self._poison.close()

    async def run(self) -> None:
        """Poll forever: a new batch whenever few enough messages are in flight, backing off when idle."""
        delay = MIN_POLL_SECONDS
        while True:
            while len(self._in_flight) > self._threshold:
                self._slot_freed.clear()
                await self._slot_freed.wait()
            try:
                received = await self._receive()
            except ResourceNotFoundError:
                received = []
            except Exception as ex:
                log.warning("Polling queue '%s' failed: %s", self.queue_name, type(ex).__name__)
                received = []
            for message in received:
                task = asyncio.create_task(self._process(message))
                self._in_flight.add(task)
                task.add_done_callback(self._finished)
            if received:
                delay = MIN_POLL_SECONDS
                continue
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self._max_poll)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("Processing a message of '%s' failed inside devhost", self.queue_name)

    async def _receive(self) -> list[StorageMessage]:
        return [
            m
            async for m in self._queue.receive_messages(
                max_messages=self._batch_size,
                messages_per_page=self._batch_size,
                visibility_timeout=PROCESSING_VISIBILITY_SECONDS,
            )
        ]

    async def _keep_invisible(self, message: StorageMessage) -> None:
        # Renew the processing visibility while the function runs, like the host's update timer.
        while True:
            await asyncio.sleep(RENEW_EVERY_SECONDS)
            updated = await self._queue.update_message(
                message, pop_receipt=message.pop_receipt, visibility_timeout=PROCESSING_VISIBILITY_SECONDS
            )
            message.pop_receipt = updated.pop_receipt
            message.next_visible_on = updated.next_visible_on

    async def _process(self, message: StorageMessage) -> None:
        dequeue_count = int(message.dequeue_count or 1)
        if dequeue_count > self._max_dequeue:
            await self._to_poison(message)
            return
        try:
            body = decode_body(message.content if isinstance(message.content, str) else "", self._encoding)
        except UndecodableMessageError:
            log.warning(
                "Message %s of '%s' cannot be decoded as %s; moving it to '%s%s' without running %s",
                message.id,
                self.queue_name,
                self._encoding,
                self.queue_name,
                POISON_SUFFIX,
                self._info.name,
            )
            await self._move_to_poison(message)
            return
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
        reason = f"New queue message detected on '{self.queue_name}'."
        renewer = asyncio.create_task(self._keep_invisible(message))
        try:
            await self._invoker.call(self._info, kwargs, reason)
        except Exception:
            failed = True
        else:
            failed = False
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewer
        if not failed:
            await self._queue.delete_message(message, pop_receipt=message.pop_receipt)
        elif dequeue_count >= self._max_dequeue:
            await self._to_poison(message)
        else:
            await self._queue.update_message(
                message, pop_receipt=message.pop_receipt, visibility_timeout=self._retry_visibility
            )

    async def _to_poison(self, message: StorageMessage) -> None:
        log.warning(
            "Message %s has reached MaxDequeueCount of %d; moving it to queue '%s%s'",
            message.id,
            self._max_dequeue,
            self.queue_name,
            POISON_SUFFIX,
        )
        await self._move_to_poison(message)

    async def _move_to_poison(self, message: StorageMessage) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self._poison.create_queue()
        await self._poison.send_message(message.content)
        await self._queue.delete_message(message, pop_receipt=message.pop_receipt)
