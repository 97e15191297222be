"""Durable Task wire vocabulary: history event and action types, event constructors, timestamps.

Numbers match azure/durable_functions/models/history/HistoryEventType.py and actions/ActionType.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

Event = dict[str, Any]
Action = dict[str, Any]


class EventType(IntEnum):
    """HistoryEventType as the SDK parses it."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16


class ActionType(IntEnum):
    """ActionType of the orchestrator's response."""

    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


class RuntimeStatus:
    """OrchestrationRuntimeStatus names as the HTTP API reports them."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    TERMINATED = "Terminated"
    CANCELED = "Canceled"
    SUSPENDED = "Suspended"


TERMINAL_STATUSES = frozenset(
    {RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED, RuntimeStatus.CANCELED}
)

# Events answering a scheduled task, keyed by the field that names the task's sequence number.
RESULT_EVENTS: dict[int, str] = {
    EventType.TASK_COMPLETED: "TaskScheduledId",
    EventType.TASK_FAILED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_COMPLETED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_FAILED: "TaskScheduledId",
    EventType.TIMER_FIRED: "TimerId",
}
FAILURE_EVENTS: frozenset[int] = frozenset({EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED})


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Timestamp format used inside history events (microseconds, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status_time(moment: datetime) -> str:
    """Timestamp format of the status API (``yyyy-MM-ddTHH:mm:ssZ``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 timestamp as sent by the SDK or a client; naive values are taken as UTC."""
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in value:
        # Python accepts at most six fraction digits; .NET may send seven.
        head, _, tail = value.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        value = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def event(kind: EventType, event_id: int = -1, *, at: datetime | None = None, **fields: Any) -> Event:
    """A history event with the common fields; ``None`` fields are left out."""
    ev: Event = {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": iso(at or utcnow()),
    }
    ev.update({k: v for k, v in fields.items() if v is not None})
    return ev
