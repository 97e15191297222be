"""Schedules orchestration episodes, activities and timers on the host's event loop.

One episode in flight per instance, and each episode takes every message that arrived since the last
one: replay cost grows with history length, so delivering completions one by one would be quadratic.

Work this process creates is started at once; a poll loop picks up what other instances sharing the
store left pending (and what a dead instance held), backing off while there is nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import uuid
from datetime import datetime

from devhost.engine import Engine, EpisodeOutcome, PreparedEpisode
from devhost.history import TERMINAL_STATUSES, EventType, event, iso, utcnow
from devhost.invoker import ActivityResult, Invoker
from devhost.loader import FunctionIndex
from devhost.store import ActivityRow, Completion, LeaseLostError, Store, TimerRow

log = logging.getLogger("devhost.durable")

MIN_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5
REAP_EVERY_POLLS = 10


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (workers share one machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Dispatcher:
    """Drives all durable work; every method runs on the host's event loop thread."""

    def __init__(
        self,
        store: Store,
        index: FunctionIndex,
        invoker: Invoker,
        *,
        max_activities: int,
        max_orchestrations: int,
        fast_timers: bool,
    ) -> None:
        self._store = store
        self._index = index
        self._invoker = invoker
        self._engine = Engine()
        self._max_activities = max_activities
        self._replay_slots = asyncio.Semaphore(max_orchestrations)
        self._fast_timers = fast_timers
        self._activity_queue: asyncio.Queue[ActivityRow] = asyncio.Queue()
        self._timers: list[tuple[datetime, int, TimerRow]] = []
        self._timer_changed = asyncio.Event()
        self._episodes: dict[str, asyncio.Task[None]] = {}
        self._completions: list[Completion] = []
        self._flush_pending = False
        self._tasks: list[asyncio.Task[None]] = []
        self._queued: set[int] = set()
        self._busy = 0
        self._armed: set[int] = set()
        self._timer_scan = 0
        self._poke = asyncio.Event()
        self.worker_id = uuid.uuid4().hex
        self.replay_seconds = 0.0
        self.episode_count = 0
        self.activities_run = 0

    async def start(self) -> None:
        """Register as a worker and resume what the store holds (activities of dead workers run again)."""
        self._store.reap_workers(pid_alive)
        self._store.register_worker(self.worker_id, os.getpid())
        self._tasks = [asyncio.create_task(self._activity_worker()) for _ in range(self._max_activities)]
        self._tasks.append(asyncio.create_task(self._timer_loop()))
        self._tasks.append(asyncio.create_task(self._poll_loop()))

    async def stop(self) -> None:
        """Cancel workers and in-flight episodes; what they held becomes pending for other workers."""
        tasks = [*self._tasks, *self._episodes.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._episodes.clear()
        self._store.unregister_worker(self.worker_id)

    def poke(self) -> None:
        """Something changed in the store: poll again now instead of after the backoff."""
        self._poke.set()

    async def _poll_loop(self) -> None:
        delay, polls = MIN_POLL_SECONDS, 0
        while True:
            self._poke.clear()
            polls += 1
            found = False
            try:
                if polls % REAP_EVERY_POLLS == 0:
                    self._store.reap_workers(pid_alive)
                found = self._poll_once()
            except Exception:
                log.exception("Polling the durable store failed")
            delay = MIN_POLL_SECONDS if found else min(delay * 2, MAX_POLL_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=delay)

    def _poll_once(self) -> bool:
        found = False
        for instance_id in self._store.instances_with_messages():
            if instance_id not in self._episodes:
                self.wake(instance_id)
                found = True
        free = self._max_activities - self._busy - self._activity_queue.qsize()
        if free > 0:
            for row in self._store.unclaimed_activities(free + len(self._queued)):
                if row.row_id not in self._queued:
                    self._enqueue(row)
                    found = True
        for timer in self._store.timers_after(self._timer_scan):
            self._timer_scan = max(self._timer_scan, timer.row_id)
            self._push_timer(timer)
        return found

    def _enqueue(self, row: ActivityRow) -> None:
        self._queued.add(row.row_id)
        self._activity_queue.put_nowait(row)

    # ------------------------------------------------------------------ episodes
    def wake(self, instance_id: str) -> None:
        """Make sure the instance's pending messages get an episode."""
        if instance_id not in self._episodes:
            self._episodes[instance_id] = asyncio.create_task(self._episode_loop(instance_id))

    async def _episode_loop(self, instance_id: str) -> None:
        owner = self.worker_id
        leased = False
        try:
            while True:
                leased = self._store.acquire_lease(instance_id, owner)
                if not leased:
                    return  # another instance runs an episode for it; its loop takes the new messages
                messages = self._store.messages(instance_id)
                record = self._store.get_instance(instance_id)
                if not messages:
                    return
                if record is None or record.status in TERMINAL_STATUSES:
                    self._store.drop_messages([m.message_id for m in messages])
                    return
                prepared = self._engine.prepare(
                    record.to_engine(), self._store.history(instance_id), messages
                )
                outcome = await self._replay(prepared)
                try:
                    self._commit(outcome, record.execution_id)
                except LeaseLostError:
                    log.info("Episode of instance %s discarded: the instance changed meanwhile", instance_id)
                    leased = False
                    return
                leased = False  # the commit released it
        except asyncio.CancelledError:
            raise
        except Exception:
            # A host bug must not spin: leave the messages for the next start and say so.
            log.exception("Episode of instance %s failed inside devhost", instance_id)
        finally:
            self._episodes.pop(instance_id, None)
            if leased:
                with contextlib.suppress(Exception):
                    self._store.release_lease(instance_id, owner)

    async def _replay(self, prepared: PreparedEpisode) -> EpisodeOutcome:
        if prepared.terminated:
            return self._engine.complete(prepared, None)
        info = self._index.orchestrators.get(prepared.instance.name)
        result: str | BaseException
        if info is None:
            result = LookupError(
                f"The function '{prepared.instance.name}' doesn't exist or is not an orchestrator."
            )
        else:
            async with self._replay_slots:
                loop = asyncio.get_running_loop()
                started = loop.time()
                result = await self._invoker.replay(info, prepared.context_json)
                self.replay_seconds += loop.time() - started
        self.episode_count += 1
        return self._engine.complete(prepared, result)

    def _commit(self, outcome: EpisodeOutcome, execution_id: str) -> None:
        committed = self._store.commit_episode(outcome, execution_id, self.worker_id)
        if outcome.status in TERMINAL_STATUSES:
            log.info("Orchestration %s finished: %s", outcome.instance_id, outcome.status)
        for row in committed.activities:
            self._enqueue(row)
        for timer in committed.timers:
            self._push_timer(timer)
        for instance_id in committed.notified:
            if instance_id != outcome.instance_id:
                self.wake(instance_id)

    # ------------------------------------------------------------------ activities
    async def _activity_worker(self) -> None:
        while True:
            row = await self._activity_queue.get()
            self._queued.discard(row.row_id)
            if not self._store.claim_activity(row.row_id, self.worker_id):
                continue  # done, purged, or running on another instance
            self._busy += 1
            try:
                await self._run_claimed(row)
            finally:
                self._busy -= 1

    async def _run_claimed(self, row: ActivityRow) -> None:
        info = self._index.activities.get(row.work.name)
        if info is None:
            result = ActivityResult(
                succeeded=False,
                reason=f"Activity function '{row.work.name}' failed: the function does not exist",
                details=None,
            )
        else:
            result = await self._invoker.run_activity(info, row.work.input_json)
        self.activities_run += 1
        if result.aborted:
            # The worker restarted under it: like an abandoned work item, it runs again.
            log.warning("Activity %s was aborted by a worker restart; it will run again", row.work.name)
            self._store.release_claim(row.row_id, self.worker_id)
            self.poke()
            return
        if result.succeeded:
            ev = event(EventType.TASK_COMPLETED, TaskScheduledId=row.work.task_id, Result=result.result_json)
        else:
            ev = event(
                EventType.TASK_FAILED,
                TaskScheduledId=row.work.task_id,
                Reason=result.reason,
                Details=result.details,
            )
        self._complete(Completion("activities", row.row_id, row.instance_id, row.execution_id, ev))

    def _complete(self, completion: Completion) -> None:
        # Completions that arrive together are committed in one transaction.
        self._completions.append(completion)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._completions, self._flush_pending = self._completions, [], False
        for instance_id in dict.fromkeys(self._store.record_completions(batch)):
            self.wake(instance_id)

    # ------------------------------------------------------------------ timers
    def _push_timer(self, timer: TimerRow) -> None:
        # Every instance arms every timer; the first to record it fires it (the row delete decides).
        if timer.row_id in self._armed:
            return
        self._armed.add(timer.row_id)
        heapq.heappush(self._timers, (timer.fire_at, timer.row_id, timer))
        self._timer_changed.set()

    async def _timer_loop(self) -> None:
        while True:
            self._timer_changed.clear()
            now = utcnow()
            while self._timers and (self._fast_timers or self._timers[0][0] <= now):
                _, _, timer = heapq.heappop(self._timers)
                self._armed.discard(timer.row_id)
                fired = event(EventType.TIMER_FIRED, TimerId=timer.timer_id, FireAt=iso(timer.fire_at))
                self._complete(
                    Completion("timers", timer.row_id, timer.instance_id, timer.execution_id, fired)
                )
            delay = (self._timers[0][0] - now).total_seconds() if self._timers else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_changed.wait(), timeout=delay)
