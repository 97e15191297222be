"""The delete journal: what one delete unit has done, written before each next destructive call.

A delete unit can be cut short at any point: the host is killed, the worker recycled, an activity
times out and Durable retries it, or the unit stops itself at its time budget and is called again.
A unit that started over would re-list, find its earlier deletions gone and report fewer deletions
than it made. So a unit writes its plan (every target and every step) once, before the first delete,
and then one small entry before each step it sends; a unit that finds a journal continues it.

Layout under ``<requestId>/journal/<category>/<scope>/`` (see :mod:`dsr.layout`)::

    plan.json           targets, steps, the calls that listed them, when the unit started; a step
                        whose ids are the next run of the targets names that run, ``"targeted":
                        [start, end]``, instead of repeating them (one copy of each id to decode)
    step-000000.json    written just before step 0 is sent; carries the outcome and calls of the
    step-000001.json    step before it, so each step costs one small write; rewritten when the service
                        refuses its step (``refusedBy``) and when a refused or checkpointed step is sent
    verify.json         when verification began (its deadline survives restarts), by which attempt

Only the last step whose entry exists can be unconfirmed; a resumed unit sends it again. Every delete
the API offers is safe to repeat (deleting a deleted image is a no-op; a deleted tag, iteration or
project answers 404), and a repeat of *our own* unconfirmed step counts as deleted by this request.
A step the service refused (a 4xx) did nothing: sending it again is not a repeat, and a 404 then
means someone else deleted it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict, cast

from dsr import layout
from dsr.storage import ExportStore, StoredFileNotFoundError, get_json, put_json

StepOutcome = Literal["done", "gone", "tolerated"]
"""``done``: the API did it. ``gone``: 404, someone (or an earlier run) did. ``tolerated``: an expected
refusal that means the goal holds already (unpublishing an iteration that is not published)."""


class CallEntry(TypedDict):
    """One real Training API call (all its attempts), as a receipt lists it."""

    operation: str
    status: int | None
    attempts: int
    durationMs: float
    at: str


class Step(TypedDict):
    operation: str
    """``DeleteImages``, ``DeletePrediction``, ``DeleteTag``, ``UnpublishIteration``, ..."""
    ids: list[str]


class Plan(TypedDict):
    startedAt: str
    targeted: list[str]
    steps: list[Step]
    calls: list[CallEntry]
    note: str | None
    verifyScopes: NotRequired[list[str | None]]
    """The listings verification repeats (images: ``None`` for the workspace, else an iteration id)."""


@dataclass
class StepRecord:
    index: int
    outcome: StepOutcome | None = None
    """None while unconfirmed: the entry was written but the unit stopped before the next one."""
    calls: list[CallEntry] = field(default_factory=list)
    resent: bool = False
    """True when a resumed unit sent this step again because its outcome was unconfirmed (kept in the
    next entry as ``previousResent``, so ``journal.resentSteps`` survives every later resume)."""
    checkpoint: bool = False
    """True when the entry was written as the unit stopped at its time budget: not sent yet."""
    refused_by: int | None = None
    """The attempt whose call of this step the service refused (a 4xx: the step did nothing), until the
    step is sent again; that attempt's ``to-step`` receipt lists the steps before it."""


@dataclass
class JournalState:
    plan: Plan
    steps: list[StepRecord]
    """One record per step entry written, in order; the last may be unconfirmed."""
    verify_started_at: float | None = None
    """Wall-clock seconds (epoch) when verification began, if it has."""
    verify_calls: list[CallEntry] = field(default_factory=list)
    verify_attempt: int = 1
    """The attempt of the request whose verification ``verify_started_at`` and ``verify_calls`` are."""

    @property
    def next_index(self) -> int:
        """The first step not known to be done: an unconfirmed last one, or the one after it."""
        if self.steps and self.steps[-1].outcome is None:
            return self.steps[-1].index
        return len(self.steps)

    @property
    def unanswered(self) -> StepRecord | None:
        """The last step, if it was sent and its answer never recorded (a crash, or a unit still
        sending it); not a checkpoint (written, not sent), a refused step (answered: it did nothing)
        nor the closing entry."""
        last = self.steps[-1] if self.steps else None
        if (
            last is None
            or last.outcome is not None
            or last.checkpoint
            or last.refused_by is not None
            or last.index >= len(self.plan["steps"])
        ):
            return None
        return last

    def all_calls(self) -> list[CallEntry]:
        return [*self.plan["calls"], *(c for step in self.steps for c in step.calls), *self.verify_calls]


class DeleteJournal:
    """Reads and appends the journal of one delete unit."""

    def __init__(self, store: ExportStore, root: str) -> None:
        self._store = store
        self._root = root

    def load(self) -> JournalState | None:
        """The journal so far, or None when this unit has not planned yet."""
        try:
            stored = get_json(self._store, layout.journal_plan(self._root))
        except StoredFileNotFoundError:
            return None
        plan = cast(Plan, {**stored, "steps": _steps_of(stored["targeted"], stored["steps"])})
        state = JournalState(plan, [])
        for ref in sorted(
            self._store.list_files(layout.journal_steps_prefix(self._root)), key=lambda ref: ref.path
        ):
            entry = json.loads(self._store.get_bytes(ref.path))
            if state.steps:
                state.steps[-1].outcome = entry["previousOutcome"]
                state.steps[-1].calls = entry["previousCalls"]
                state.steps[-1].resent = bool(entry.get("previousResent"))  # absent in older journals
            state.steps.append(_record_of(entry))
        try:
            verification = get_json(self._store, layout.journal_verification(self._root))
        except StoredFileNotFoundError:
            return state
        state.verify_started_at = float(verification["startedAt"])
        state.verify_calls = verification["calls"]
        state.verify_attempt = int(verification.get("attempt", 1))
        return state

    def write_plan(self, plan: Plan) -> JournalState:
        put_json(self._store, layout.journal_plan(self._root), {**plan, "steps": _stored_steps(plan)})
        return JournalState(plan, [])

    def begin_step(self, state: JournalState, index: int, *, checkpoint: bool = False) -> None:
        """Record, before step ``index`` is sent, how the step before it ended and what it cost.

        ``index == len(plan.steps)`` is the closing entry: every step is done. A ``checkpoint`` entry
        is written when the unit stops at its time budget: the step is not sent before the next call.
        """
        state.steps.append(StepRecord(index, checkpoint=checkpoint))
        self._write_last(state)

    def confirm_sending(self, state: JournalState) -> None:
        """Before sending a step whose entry is a checkpoint or a refusal, record that it is being sent
        now, so a crash during it makes the next attempt treat it as this unit's own unconfirmed step."""
        state.steps[-1].checkpoint = False
        state.steps[-1].refused_by = None
        self._write_last(state)

    def refuse_step(self, state: JournalState, attempt: int) -> None:
        """Record that the service refused the last step in ``attempt``: it did nothing, so whoever
        sends it next sends it for the first time, and a cancel finds that attempt's receipt of it."""
        state.steps[-1].refused_by = attempt
        self._write_last(state)

    def _write_last(self, state: JournalState) -> None:
        record = state.steps[-1]
        previous = state.steps[-2] if len(state.steps) > 1 else None
        entry: dict[str, Any] = {
            "index": record.index,
            "previousOutcome": None if previous is None else previous.outcome,
            "previousCalls": [] if previous is None else previous.calls,
            "previousResent": previous is not None and previous.resent,
            "checkpoint": record.checkpoint,
        }
        if record.refused_by is not None:
            entry["refusedBy"] = record.refused_by
        put_json(self._store, layout.journal_step(self._root, record.index), entry)

    def save_verification(self, state: JournalState, now: float) -> None:
        """Keep when verification began (its deadline survives restarts) and the calls it made."""
        if state.verify_started_at is None:
            state.verify_started_at = now
        put_json(
            self._store,
            layout.journal_verification(self._root),
            {
                "startedAt": state.verify_started_at,
                "calls": state.verify_calls,
                "attempt": state.verify_attempt,
            },
        )


def _record_of(entry: dict[str, Any]) -> StepRecord:
    """A step entry's own record; its outcome, calls and resending arrive with the next entry."""
    refused_by = entry.get("refusedBy")
    return StepRecord(
        entry["index"],
        checkpoint=bool(entry.get("checkpoint")),
        refused_by=None if refused_by is None else int(refused_by),
    )


def _stored_steps(plan: Plan) -> list[dict[str, Any]]:
    """The plan's steps as plan.json keeps them: one whose ids are the next run of the targets as
    that run's bounds, any other (unpublishing, say) with its ids."""
    targeted, position = plan["targeted"], 0
    stored: list[dict[str, Any]] = []
    for step in plan["steps"]:
        end = position + len(step["ids"])
        if step["ids"] and targeted[position:end] == step["ids"]:
            stored.append({"operation": step["operation"], "targeted": [position, end]})
            position = end
        else:
            stored.append(dict(step))
    return stored


def _steps_of(targeted: list[str], stored: list[dict[str, Any]]) -> list[Step]:
    """The steps of a plan.json (also one from before runs were kept as bounds: ids in every step);
    a run's ids are the targets' own strings, not a second copy."""
    steps: list[Step] = []
    for step in stored:
        if "ids" in step:
            steps.append({"operation": step["operation"], "ids": step["ids"]})
        else:
            start, end = step["targeted"]
            steps.append({"operation": step["operation"], "ids": targeted[start:end]})
    return steps
