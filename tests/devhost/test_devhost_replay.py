"""Replay-level tests: sequence-number ordering (the retry ablation) and determinism.

These drive devhost's Engine and the real SDK handles in-process, with a tiny synchronous driver that
delivers every completion of a round in one batch, in a chosen arrival order. That control over the
batch is what the ablation needs; the HTTP tests cover the same orchestrations through the full host.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from typing import Any

import pytest
from azure.functions._durable_functions import OrchestrationContext

from devhost.engine import Engine, EpisodeOutcome, Instance, Message, context_json, flatten_actions
from devhost.history import TERMINAL_STATUSES, EventType, event
from devhost.invoker import Invoker
from devhost.loader import FunctionIndex, load_app
from tests.devhost.devhost_client import APPS

MAX_EPISODES = 200


@pytest.fixture(scope="module")
def index() -> FunctionIndex:
    return load_app(APPS / "core")


class Driver:
    """Runs one orchestration to the end; timers fire at once and arrive before activity results."""

    def __init__(self, index: FunctionIndex, *, host_ordering: bool = True) -> None:
        self.index = index
        self.engine = Engine()
        self.invoker = Invoker(sync_workers=2, orchestrator_workers=1)
        self.host_ordering = host_ordering
        self.history: list[str] = []
        self.episode_contexts: list[str] = []

    def replay(self, name: str, context: str) -> str | BaseException:
        try:
            return str(self.index.orchestrators[name].user_function(context=OrchestrationContext(context)))
        except Exception as ex:
            return ex

    def run(self, name: str, instance_id: str, payload: Any) -> EpisodeOutcome:
        instance = Instance(
            instance_id, name, "exec", "Pending", json.dumps(payload), None, None, None, None, {}
        )
        inbox = [event(EventType.EXECUTION_STARTED, Name=name, Version="", Input=json.dumps(payload))]
        for number in range(MAX_EPISODES):
            messages = [Message(i, None, e) for i, e in enumerate(inbox)]
            prepared = self.engine.prepare(instance, self.history, messages)
            if not self.host_ordering:
                # Ablation: keep devhost's number allocation but present events in arrival order.
                prepared.new_events = [prepared.new_events[0], *inbox]
                prepared.context_json = context_json(instance, self.history, prepared.new_events)
            self.episode_contexts.append(prepared.context_json)
            outcome = self.engine.complete(prepared, self.replay(name, prepared.context_json))
            self.history += [json.dumps({**e, "IsPlayed": True}) for e in outcome.history]
            instance = dataclasses.replace(
                instance,
                engine_state=outcome.engine_state,
                custom_status_json=outcome.custom_status_json,
            )
            if outcome.status in TERMINAL_STATUSES:
                return outcome
            fired = [event(EventType.TIMER_FIRED, TimerId=t.timer_id) for t in outcome.timers]
            done = []
            for work in outcome.activities:
                result = asyncio.run(
                    self.invoker.run_activity(self.index.activities[work.name], work.input_json)
                )
                if result.succeeded:
                    done.append(
                        event(
                            EventType.TASK_COMPLETED, TaskScheduledId=work.task_id, Result=result.result_json
                        )
                    )
                else:
                    done.append(
                        event(
                            EventType.TASK_FAILED,
                            TaskScheduledId=work.task_id,
                            Reason=result.reason,
                            Details=result.details,
                        )
                    )
            inbox = [*fired, *done]
            assert inbox, f"episode {number} left nothing to deliver"
        raise AssertionError("orchestration did not finish")


def _output(outcome: EpisodeOutcome) -> Any:
    return json.loads(outcome.output_json or "null")


def test_retry_events_first_gives_correct_result(index: FunctionIndex) -> None:
    outcome = Driver(index).run("race_retry", "ablation-host", None)
    assert outcome.status == "Completed"
    assert _output(outcome) == [True, 9, "ok after 3 attempts"]


def test_arrival_order_ablation_silently_corrupts_results(index: FunctionIndex) -> None:
    # Without retry-first ordering the SDK numbers the `square` call differently from the host, so a
    # retry TimerFired is matched to it: the orchestration "completes" with a wrong value.
    outcome = Driver(index, host_ordering=False).run("race_retry", "ablation-naive", None)
    assert _output(outcome) != [True, 9, "ok after 3 attempts"]


def test_retry_fan_out_with_batched_failures(index: FunctionIndex) -> None:
    outcome = Driver(index).run("retry_fan_out", "ablation-fan", None)
    attempts = [f"ok after {i % 3 + 1} attempts" for i in range(6)]
    assert _output(outcome) == [[*attempts, 0, 1, 4, 9], 25]


def test_full_history_replays_identically(index: FunctionIndex) -> None:
    driver = Driver(index)
    driver.run("retry_fan_out", "determinism", None)
    final = driver.episode_contexts[-1]
    answers = {driver.replay("retry_fan_out", final) for _ in range(20)}
    assert len(answers) == 1
    # Every earlier episode's actions are a prefix of the final action list.
    answer = answers.pop()
    assert isinstance(answer, str)
    final_actions = flatten_actions(json.loads(answer))
    for context in driver.episode_contexts:
        reply = driver.replay("retry_fan_out", context)
        assert isinstance(reply, str)
        actions = flatten_actions(json.loads(reply))
        assert actions == final_actions[: len(actions)]


def test_changed_code_path_is_reported_as_non_determinism(index: FunctionIndex) -> None:
    switch = sys.modules["function_app"].NONDETERMINISTIC_SWITCH
    driver = Driver(index)
    engine_complete = driver.engine.complete
    episodes = 0

    def flip_after_first(prepared: Any, result: Any) -> EpisodeOutcome:
        nonlocal episodes
        episodes += 1
        if episodes == 2:  # both activities are recorded; the next replay takes the other branch
            switch["value"] = "second"
        return engine_complete(prepared, result)

    driver.engine.complete = flip_after_first  # type: ignore[method-assign]
    try:
        switch["value"] = "first"
        outcome = driver.run("nondeterministic", "nd", None)
    finally:
        switch["value"] = "first"
    assert outcome.status == "Failed"
    assert "Non-Deterministic workflow detected" in (outcome.failure or "")
    assert episodes == 3
