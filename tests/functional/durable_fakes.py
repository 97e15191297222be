"""A fake Durable orchestration context and a driver for orchestrator generators.

The orchestrator is called as the Durable worker calls it: with a context, yielding tasks and getting
their results sent back. Here a test's ``respond`` function plays the activities, sub-orchestrations,
external events and timers; no host, no replay, no storage. What the fake records (every call, every
custom status, a continue-as-new input) is what the tests assert on.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@dataclass(eq=False)
class Call:
    """A task the orchestrator created: an activity, a sub-orchestration, an event wait or a timer."""

    kind: str
    name: str
    input: Any = None
    instance_id: str | None = None
    result: Any = None
    canceled: bool = False

    def cancel(self) -> None:
        self.canceled = True


@dataclass(eq=False)
class AnyOf:
    tasks: list[Call]


@dataclass(eq=False)
class AllOf:
    tasks: list[Call]


Respond = Callable[[Call], Any]
"""A call's result; raising an Exception makes the task fail with it."""
Choose = Callable[[list[Call]], Call]
"""Which task of a ``task_any`` completes first."""


@dataclass
class FakeContext:
    """The part of ``DurableOrchestrationContext`` the orchestrators use."""

    payload: Any
    instance_id: str = "dsr-r1"
    current_utc_datetime: datetime = NOW
    calls: list[Call] = field(default_factory=list)
    statuses: list[Any] = field(default_factory=list)
    continued_with: Any = None

    def get_input(self) -> Any:
        return self.payload

    def _call(self, kind: str, name: str, value: Any = None, instance_id: str | None = None) -> Call:
        call = Call(kind, name, value, instance_id)
        self.calls.append(call)
        return call

    def call_activity_with_retry(self, name: str, retry: object, value: Any) -> Call:
        return self._call("activity", name, value)

    def call_sub_orchestrator(self, name: str, value: Any, instance_id: str) -> Call:
        return self._call("orchestrator", name, value, instance_id)

    def wait_for_external_event(self, name: str) -> Call:
        return self._call("event", name)

    def create_timer(self, fire_at: datetime) -> Call:
        return self._call("timer", "timer", fire_at)

    def task_any(self, tasks: list[Call]) -> AnyOf:
        return AnyOf(list(tasks))

    def task_all(self, tasks: list[Call]) -> AllOf:
        return AllOf(list(tasks))

    def set_custom_status(self, value: Any) -> None:
        self.statuses.append(value)

    def continue_as_new(self, value: Any) -> None:
        self.continued_with = value

    def named(self, kind: str, name: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind and c.name == name]


def _first(tasks: list[Call]) -> Call:
    return tasks[0]


def _settle(task: Call | AnyOf | AllOf, respond: Respond, choose: Choose) -> Any:
    if isinstance(task, AllOf):
        return [respond(t) for t in task.tasks]  # the first failure fails the whole task
    if isinstance(task, AnyOf):
        winner = choose(task.tasks)
        try:
            winner.result = respond(winner)
        except Exception as exc:  # Durable hands a failed task's exception over as its result
            winner.result = exc
        return winner
    return respond(task)


def drive(
    orchestrator: Callable[[Any], Generator[Any, Any, Any]],
    context: FakeContext,
    respond: Respond,
    choose: Choose = _first,
) -> Any:
    """Run ``orchestrator`` to its end, answering each task it yields; returns its result."""
    generator = orchestrator(context)
    value: Any = None
    error: Exception | None = None
    try:
        while True:
            task = generator.throw(error) if error is not None else generator.send(value)
            error = None
            try:
                value = _settle(task, respond, choose)
            except Exception as exc:
                error = exc
    except StopIteration as stop:
        return stop.value


def user_function(registered: Any) -> Callable[[Any], Generator[Any, Any, Any]]:
    """The generator function behind a blueprint-registered orchestrator."""
    # The registered function is the SDK's wrapper (it takes the host's JSON context); the generator
    # function it wraps is kept on it, as the SDK's samples use it for their unit tests.
    function: Callable[[Any], Generator[Any, Any, Any]] = (
        registered.build().get_user_function().orchestrator_function
    )
    return function
