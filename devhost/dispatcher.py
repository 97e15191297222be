"""Schedules orchestration episodes, activities and timers on the host's event loop.

One episode in flight per instance, and each episode takes every message that arrived since the last
one: replay cost grows with history length, so delivering completions one by one would be quadratic.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from datetime import datetime

from devhost.engine import Engine, EpisodeOutcome, PreparedEpisode
from devhost.history import TERMINAL_STATUSES, EventType, event, iso, utcnow
from devhost.invoker import ActivityResult, Invoker
from devhost.loader import FunctionIndex
from devhost.store import ActivityRow, Completion, Store, TimerRow

log = logging.getLogger("devhost.durable")


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
        self.replay_seconds = 0.0
        self.episode_count = 0

    async def start(self) -> None:
        """Resume everything the store says is pending (activities run again: at-least-once)."""
        for row in self._store.pending_activities():
            self._activity_queue.put_nowait(row)
        for timer in self._store.pending_timers():
            self._push_timer(timer)
        self._tasks = [asyncio.create_task(self._activity_worker()) for _ in range(self._max_activities)]
        self._tasks.append(asyncio.create_task(self._timer_loop()))
        for instance_id in self._store.instances_with_messages():
            self.wake(instance_id)

    async def stop(self) -> None:
        """Cancel workers and in-flight episodes (their messages stay pending in the store)."""
        tasks = [*self._tasks, *self._episodes.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._episodes.clear()

    # ------------------------------------------------------------------ episodes
    def wake(self, instance_id: str) -> None:
        """Make sure the instance's pending messages get an episode."""
        if instance_id not in self._episodes:
            self._episodes[instance_id] = asyncio.create_task(self._episode_loop(instance_id))

    async def _episode_loop(self, instance_id: str) -> None:
        try:
            while True:
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
                self._commit(outcome, record.execution_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A host bug must not spin: leave the messages for the next start and say so.
            log.exception("Episode of instance %s failed inside devhost", instance_id)
        finally:
            self._episodes.pop(instance_id, None)

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
        committed = self._store.commit_episode(outcome, execution_id)
        if outcome.status in TERMINAL_STATUSES:
            log.info("Orchestration %s finished: %s", outcome.instance_id, outcome.status)
        for row in committed.activities:
            self._activity_queue.put_nowait(row)
        for timer in committed.timers:
            self._push_timer(timer)
        for instance_id in committed.notified:
            if instance_id != outcome.instance_id:
                self.wake(instance_id)

    # ------------------------------------------------------------------ activities
    async def _activity_worker(self) -> None:
        while True:
            row = await self._activity_queue.get()
            info = self._index.activities.get(row.work.name)
            if info is None:
                result = ActivityResult(
                    succeeded=False,
                    reason=f"Activity function '{row.work.name}' failed: the function does not exist",
                    details=None,
                )
            else:
                result = await self._invoker.run_activity(info, row.work.input_json)
            if result.succeeded:
                ev = event(
                    EventType.TASK_COMPLETED, TaskScheduledId=row.work.task_id, Result=result.result_json
                )
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
        heapq.heappush(self._timers, (timer.fire_at, timer.row_id, timer))
        self._timer_changed.set()

    async def _timer_loop(self) -> None:
        while True:
            self._timer_changed.clear()
            now = utcnow()
            while self._timers and (self._fast_timers or self._timers[0][0] <= now):
                _, _, timer = heapq.heappop(self._timers)
                fired = event(EventType.TIMER_FIRED, TimerId=timer.timer_id, FireAt=iso(timer.fire_at))
                self._complete(
                    Completion("timers", timer.row_id, timer.instance_id, timer.execution_id, fired)
                )
            delay = (self._timers[0][0] - now).total_seconds() if self._timers else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_changed.wait(), timeout=delay)
