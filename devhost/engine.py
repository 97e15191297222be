"""Orchestration episodes: turn pending messages into one replay of the real SDK and its outcome.

The SDK numbers every task it schedules (``_sequence_number``) and matches completions by that number,
so the host must hand out exactly the same numbers. Besides one number per number-consuming action, a
``*_with_retry`` task spends hidden numbers: one for the retry timer after each failed attempt and one
for each re-scheduled attempt. Those are allocated here while the batch is built, and the events that
cause them go first in the batch: they never resume the generator, so any action the generator emits
in the same episode gets a number after them on both sides (see docs/devhost.md, "Sequence numbers").
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devhost.history import (
    FAILURE_EVENTS,
    RESULT_EVENTS,
    Action,
    ActionType,
    Event,
    EventType,
    RuntimeStatus,
    event,
    iso,
    parse_time,
    utcnow,
)

# Replay schema the host offers: V3 (upperSchemaVersionNew) with the extension's long-timer settings.
UPPER_SCHEMA_VERSION = 1
UPPER_SCHEMA_VERSION_NEW = 2
LONG_RUNNING_TIMER_INTERVAL = "3.00:00:00"
MAXIMUM_SHORT_TIMER_DURATION = "6.00:00:00"
DEFAULT_HTTP_ASYNC_SLEEP_MS = 30000
OUT_OF_PROC_MARKER = "$OutOfProcData$:"
MAX_CUSTOM_STATUS_KB = 16
UNSUPPORTED_ACTIONS = {
    ActionType.CALL_ENTITY: "durable entities",
    ActionType.SIGNAL_ENTITY: "durable entities",
    ActionType.CALL_HTTP: "call_http",
}


@dataclass(frozen=True)
class Instance:
    """The persisted facts about one orchestration instance that an episode needs."""

    instance_id: str
    name: str
    execution_id: str
    status: str
    input_json: str | None
    custom_status_json: str | None
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    engine_state: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """A pending inbox message for an instance."""

    message_id: int
    execution_id: str | None
    event: Event


@dataclass(frozen=True)
class ActivityWork:
    """An activity to run: the answer goes back as TaskCompleted/TaskFailed for ``task_id``."""

    task_id: int
    name: str
    input_json: str | None


@dataclass(frozen=True)
class TimerWork:
    """A durable timer to fire at ``fire_at``."""

    timer_id: int
    fire_at: datetime


@dataclass(frozen=True)
class ChildStart:
    """A sub-orchestration to create."""

    instance_id: str
    name: str
    input_json: str | None
    parent_task_id: int


@dataclass(frozen=True)
class Outbound:
    """A message for another instance (or for this one's next execution)."""

    instance_id: str
    execution_id: str | None
    event: Event


@dataclass
class EpisodeOutcome:
    """Everything one episode changes; the store commits it in one transaction."""

    instance_id: str
    consumed: list[int]
    history: list[Event] = field(default_factory=list)
    reset_history: bool = False
    status: str = RuntimeStatus.RUNNING
    output_json: str | None = None
    custom_status_json: str | None = None
    execution_id: str | None = None
    input_json: str | None = None
    engine_state: dict[str, Any] = field(default_factory=dict)
    activities: list[ActivityWork] = field(default_factory=list)
    timers: list[TimerWork] = field(default_factory=list)
    canceled_timers: list[int] = field(default_factory=list)
    children: list[ChildStart] = field(default_factory=list)
    outbound: list[Outbound] = field(default_factory=list)
    failure: str | None = None


@dataclass
class PreparedEpisode:
    """An episode ready to replay: context JSON for the SDK plus the host's pending bookkeeping."""

    instance: Instance
    consumed: list[int]
    new_events: list[Event]
    scheduled: list[Event]
    state: dict[str, Any]
    activities: list[ActivityWork]
    timers: list[TimerWork]
    context_json: str = ""
    terminate_reason: str | None = None
    terminated: bool = False


def new_engine_state() -> dict[str, Any]:
    """Bookkeeping of a fresh execution: next sequence number, recorded actions, open retry chains."""
    return {"next_id": 0, "sigs": [], "ids": [], "chains": {}, "episodes": 0}


def flatten_actions(state: dict[str, Any]) -> list[Action]:
    """Atomic actions of an orchestrator response, depth-first through WhenAll/WhenAny, in SDK order."""
    groups = state.get("actions") or []
    if state.get("schemaVersion"):
        top: list[Action] = groups[0] if groups else []
    else:
        top = [a for group in groups for a in group]
    out: list[Action] = []

    def walk(action: Action) -> None:
        if action["actionType"] in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            for child in action["compoundActions"]:
                walk(child)
        else:
            out.append(action)

    for action in top:
        walk(action)
    return out


def _signature(action: Action) -> list[Any]:
    return [action["actionType"], action.get("functionName") or action.get("externalEventName")]


def parse_response(result: str | BaseException) -> tuple[dict[str, Any], str | None]:
    """Orchestrator state and error text from the handle's return value or raised exception."""
    if isinstance(result, str):
        return json.loads(result), None
    text = str(result)
    if OUT_OF_PROC_MARKER in text:
        state = json.loads(text.split(OUT_OF_PROC_MARKER, 1)[1])
        return state, state.get("error") or text.split(OUT_OF_PROC_MARKER, 1)[0].strip()
    return {}, f"{type(result).__name__}: {text}"


def custom_status_error(value: Any) -> str | None:
    """The extension's refusal of a custom status over 16 KB (UTF-16 size of the compact JSON)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    size_kb = int(len(text.encode("utf-16-le")) / 1024)
    if size_kb <= MAX_CUSTOM_STATUS_KB:
        return None
    return (
        f"The UTF-16 size of the JSON-serialized payload must not exceed {MAX_CUSTOM_STATUS_KB} KB."
        f" The current payload size is {size_kb:,} KB."
    )


def new_execution_id() -> str:
    """A fresh execution id (hex GUID, as DTFx uses)."""
    return uuid.uuid4().hex


def context_json(instance: Instance, history: list[str], new_events: list[Event]) -> str:
    """The orchestration trigger payload: stored history text plus this episode's new events."""
    head = {
        "input": json.loads(instance.input_json) if instance.input_json is not None else None,
        "instanceId": instance.instance_id,
        "isReplaying": bool(history),
        "parentInstanceId": instance.parent_instance_id,
        "upperSchemaVersion": UPPER_SCHEMA_VERSION,
        "upperSchemaVersionNew": UPPER_SCHEMA_VERSION_NEW,
        "longRunningTimerIntervalDuration": LONG_RUNNING_TIMER_INTERVAL,
        "maximumShortTimerDuration": MAXIMUM_SHORT_TIMER_DURATION,
        "defaultHttpAsyncRequestSleepTimeMillseconds": DEFAULT_HTTP_ASYNC_SLEEP_MS,
    }
    # Stored events are already JSON text: splice them in instead of re-parsing the whole history.
    events = ",".join([*history, *(json.dumps(e) for e in new_events)])
    return '{"history":[' + events + "]," + json.dumps(head)[1:]


class Engine:
    """Builds episodes and interprets the SDK's answers; holds no state of its own."""

    # ------------------------------------------------------------------ before the replay
    def prepare(self, instance: Instance, history: list[str], messages: list[Message]) -> PreparedEpisode:
        """Order the batch, allocate hidden retry numbers and build the context JSON."""
        state = copy.deepcopy(instance.engine_state) or new_engine_state()
        prepared = PreparedEpisode(
            instance=instance,
            consumed=[m.message_id for m in messages],
            new_events=[],
            scheduled=[],
            state=state,
            activities=[],
            timers=[],
        )
        started: list[Event] = []
        retry_first: list[Event] = []
        rest: list[Event] = []
        chains: dict[str, Any] = state["chains"]
        for message in messages:
            ev = dict(message.event)
            kind = ev["EventType"]
            if kind == EventType.EXECUTION_TERMINATED:
                prepared.terminated = True
                prepared.terminate_reason = ev.get("Input")
                continue
            if message.execution_id is not None and message.execution_id != instance.execution_id:
                continue  # answer for an execution that continued-as-new or was replaced
            if kind == EventType.EXECUTION_STARTED:
                started.append(ev)
                continue
            key_field = RESULT_EVENTS.get(kind)
            chain_key = str(ev.get(key_field)) if key_field else None
            chain = chains.pop(chain_key, None) if chain_key is not None else None
            if chain is None:
                rest.append(ev)
            elif kind in FAILURE_EVENTS:
                # Failed attempt: the SDK spends the next number on the retry timer. After the last
                # attempt nothing is retried, so that timer fires at once (no backoff to wait out).
                timer_id = self._allocate(state)
                wait_ms = chain["interval_ms"] if chain["attempt"] < chain["max"] else 0
                fire_at = utcnow() + timedelta(milliseconds=wait_ms)
                prepared.scheduled.append(event(EventType.TIMER_CREATED, timer_id, FireAt=iso(fire_at)))
                prepared.timers.append(TimerWork(timer_id, fire_at))
                chains[str(timer_id)] = chain
                retry_first.append(ev)
            elif kind == EventType.TIMER_FIRED and chain["attempt"] < chain["max"]:
                # Retry timer fired with attempts left: the SDK spends the next number on the new attempt.
                attempt_id = self._allocate(state)
                chain["attempt"] += 1
                chains[str(attempt_id)] = chain
                prepared.scheduled.extend(self._schedule(prepared, chain["action"], attempt_id))
                retry_first.append(ev)
            else:
                rest.append(ev)  # success, or the final retry timer that makes the SDK give up
        prepared.new_events = [
            event(EventType.ORCHESTRATOR_STARTED),
            *started,
            *retry_first,
            *rest,
        ]
        if not prepared.terminated:
            prepared.context_json = context_json(instance, history, prepared.new_events)
        return prepared

    @staticmethod
    def _allocate(state: dict[str, Any]) -> int:
        number: int = state["next_id"]
        state["next_id"] = number + 1
        return number

    # ------------------------------------------------------------------ after the replay
    def complete(self, prepared: PreparedEpisode, result: str | BaseException | None) -> EpisodeOutcome:
        """Interpret the SDK's response (``None`` when the episode was a termination)."""
        instance, state = prepared.instance, prepared.state
        outcome = EpisodeOutcome(
            instance_id=instance.instance_id,
            consumed=prepared.consumed,
            custom_status_json=instance.custom_status_json,
            engine_state=state,
        )
        if prepared.terminated:
            outcome.history = [
                *prepared.new_events[:1],
                event(EventType.EXECUTION_TERMINATED, Input=prepared.terminate_reason),
            ]
            outcome.status = RuntimeStatus.TERMINATED
            outcome.output_json = json.dumps(prepared.terminate_reason)
            return outcome
        assert result is not None, "a replay result is required unless the episode terminates"
        response, error = parse_response(result)
        if "customStatus" in response:  # the SDK omits falsy values: keep the previous one then
            too_large = custom_status_error(response["customStatus"])
            if too_large is None:
                outcome.custom_status_json = json.dumps(response["customStatus"])
            error = error or too_large
        actions = flatten_actions(response)
        signatures = [_signature(a) for a in actions]
        known = len(state["sigs"])
        if error is None and signatures[:known] != state["sigs"]:
            error = (
                "Non-Deterministic workflow detected: the orchestrator replayed actions "
                f"{signatures[:known]} but the history recorded {state['sigs']}"
            )
        for index, action in enumerate(actions[:known]):
            task_id = state["ids"][index]
            canceled = action["actionType"] == ActionType.CREATE_TIMER and action.get("isCanceled")
            if canceled and task_id is not None:
                outcome.canceled_timers.append(task_id)
        continue_as_new: Action | None = None
        scheduled = list(prepared.scheduled)
        if error is None:
            for action in actions[known:]:
                kind = action["actionType"]
                if kind == ActionType.WAIT_FOR_EXTERNAL_EVENT:
                    state["ids"].append(None)  # matched by name, consumes no number
                    continue
                task_id = self._allocate(state)
                state["ids"].append(task_id)
                if kind in UNSUPPORTED_ACTIONS:
                    error = f"devhost does not support {UNSUPPORTED_ACTIONS[ActionType(kind)]}"
                    break
                if kind == ActionType.CONTINUE_AS_NEW:
                    continue_as_new = action
                    continue
                if kind in (ActionType.CALL_ACTIVITY_WITH_RETRY, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY):
                    options = action["retryOptions"]
                    state["chains"][str(task_id)] = {
                        "action": action,
                        "attempt": 1,
                        "max": int(options["maxNumberOfAttempts"]),
                        "interval_ms": int(options["firstRetryIntervalInMilliseconds"]),
                    }
                scheduled.extend(self._schedule(prepared, action, task_id))
        state["sigs"] = signatures
        state["episodes"] += 1
        outcome.history = [*prepared.new_events, *scheduled, event(EventType.ORCHESTRATOR_COMPLETED)]
        outcome.activities = prepared.activities
        outcome.timers = prepared.timers
        outcome.children = self._children(prepared, scheduled)
        if error is not None:
            self._finish(outcome, instance, RuntimeStatus.FAILED, error=error)
        elif response.get("isDone") and continue_as_new is not None:
            self._continue_as_new(outcome, instance, continue_as_new.get("input"))
        elif response.get("isDone"):
            self._finish(outcome, instance, RuntimeStatus.COMPLETED, output=response.get("output"))
        return outcome

    def _schedule(self, prepared: PreparedEpisode, action: Action, task_id: int) -> list[Event]:
        kind = action["actionType"]
        if kind in (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY):
            prepared.activities.append(ActivityWork(task_id, action["functionName"], action.get("input")))
            return [
                event(
                    EventType.TASK_SCHEDULED, task_id, Name=action["functionName"], Input=action.get("input")
                )
            ]
        if kind in (ActionType.CALL_SUB_ORCHESTRATOR, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            # DTFx's default child id when the orchestrator gives none: "<parent execution id>:<number>".
            child_id = action.get("instanceId") or f"{prepared.instance.execution_id}:{task_id}"
            return [
                event(
                    EventType.SUB_ORCHESTRATION_CREATED,
                    task_id,
                    Name=action["functionName"],
                    InstanceId=child_id,
                    Input=action.get("input"),
                )
            ]
        if kind == ActionType.CREATE_TIMER:
            fire_at = parse_time(action["fireAt"])
            if not action.get("isCanceled"):
                prepared.timers.append(TimerWork(task_id, fire_at))
            return [event(EventType.TIMER_CREATED, task_id, FireAt=action["fireAt"])]
        raise ValueError(f"cannot schedule actionType {kind}")

    @staticmethod
    def _children(prepared: PreparedEpisode, scheduled: list[Event]) -> list[ChildStart]:
        return [
            ChildStart(e["InstanceId"], e["Name"], e.get("Input"), e["EventId"])
            for e in scheduled
            if e["EventType"] == EventType.SUB_ORCHESTRATION_CREATED
        ]

    @staticmethod
    def _finish(
        outcome: EpisodeOutcome,
        instance: Instance,
        status: str,
        *,
        output: Any = None,
        error: str | None = None,
    ) -> None:
        outcome.status = status
        outcome.activities, outcome.timers, outcome.children = [], [], []
        if error is not None:
            message = f"Orchestrator function '{instance.name}' failed: {error}"
            outcome.output_json = json.dumps(message)
            outcome.failure = message
            outcome.history.append(event(EventType.EXECUTION_FAILED, Reason=message))
            parent_event = event(
                EventType.SUB_ORCHESTRATION_FAILED,
                TaskScheduledId=instance.parent_task_id,
                Reason=message,
                Details=error,
            )
        else:
            outcome.output_json = json.dumps(output)
            outcome.history.append(event(EventType.EXECUTION_COMPLETED, Result=outcome.output_json))
            parent_event = event(
                EventType.SUB_ORCHESTRATION_COMPLETED,
                TaskScheduledId=instance.parent_task_id,
                Result=outcome.output_json,
            )
        if instance.parent_instance_id is not None:
            outcome.outbound.append(
                Outbound(instance.parent_instance_id, instance.parent_execution_id, parent_event)
            )

    @staticmethod
    def _continue_as_new(outcome: EpisodeOutcome, instance: Instance, new_input: str | None) -> None:
        execution_id = new_execution_id()
        outcome.status = RuntimeStatus.CONTINUED_AS_NEW
        outcome.reset_history = True
        outcome.history = []
        outcome.activities, outcome.timers, outcome.children = [], [], []
        outcome.execution_id = execution_id
        outcome.input_json = json.dumps(new_input)
        outcome.engine_state = new_engine_state()
        outcome.outbound.append(
            Outbound(
                instance.instance_id,
                execution_id,
                event(
                    EventType.EXECUTION_STARTED, Name=instance.name, Version="", Input=json.dumps(new_input)
                ),
            )
        )
