"""``watch``: poll status documents until the requests end, with a live progress bar per category.

One request: a bar per category. Several (bulk): a bar per request, counting its finished categories.
An export's bars have no total while a category runs (the API does not know how many items there are
until it has listed them), so they pulse until the category ends; a delete's fill as its units report
what they have deleted of what they targeted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from cvdsr.client import CliError, DsrClient

FINISHED_CATEGORY_STATES = frozenset(
    {"succeeded", "failed", "not_attributable", "manual_action_required", "skipped"}
)
DEFAULT_POLL_SECONDS = 1.0
DEFAULT_TIMEOUT_SECONDS = 3600.0
STALL_WARNING_SECONDS = 120.0
"""Without any change for this long, the watch says so and shows the document's error, if any."""


def _counts(entry: dict[str, Any]) -> str:
    counts = entry.get("counts") or {}
    return ", ".join(f"{name} {value}" for name, value in sorted(counts.items()))


def _category_line(name: str, entry: dict[str, Any]) -> str:
    counts = _counts(entry)
    return f"{name:<22} {entry['state']:<22} {counts}"


def deleted_of_targeted(counts: dict[str, int]) -> tuple[int, int] | None:
    """How many items a running delete category has deleted and of how many it targets, once its
    units have listed them (``<items>Targeted`` beside ``<items>Deleted``); None before, or for an export."""
    deleted = targeted = 0
    for name, value in counts.items():
        if name.endswith("Targeted") and f"{name.removesuffix('Targeted')}Deleted" in counts:
            targeted += value
            deleted += counts[f"{name.removesuffix('Targeted')}Deleted"]
    return (deleted, targeted) if targeted else None


def _finished_count(document: dict[str, Any]) -> int:
    return sum(1 for e in document["categories"].values() if e["state"] in FINISHED_CATEGORY_STATES)


class _Board:
    """The live bars for the watched requests."""

    def __init__(self, progress: Progress, single: bool) -> None:
        self._progress = progress
        self._single = single
        self._tasks: dict[str, TaskID] = {}

    def _task(self, key: str, description: str) -> TaskID:
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(description, total=None)
        return self._tasks[key]

    def show(self, document: dict[str, Any]) -> None:
        if self._single:
            for name, entry in document["categories"].items():
                task = self._task(name, name)
                done = entry["state"] in FINISHED_CATEGORY_STATES
                if done:
                    self._progress.update(task, total=1, completed=1, description=_category_line(name, entry))
                elif (fraction := deleted_of_targeted(entry.get("counts") or {})) is not None:
                    deleted, targeted = fraction
                    line = _category_line(name, entry)
                    self._progress.update(task, total=targeted, completed=deleted, description=line)
                else:
                    self._progress.update(task, total=None, description=_category_line(name, entry))
            return
        key = document["requestId"]
        total = len(document["categories"])
        task = self._task(key, key)
        self._progress.update(
            task,
            total=total or 1,
            completed=_finished_count(document) if total else 1,
            description=f"{key:<30} {document['state']:<20}",
        )


def watch(
    client: DsrClient,
    request_ids: list[str],
    console: Console,
    *,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, dict[str, Any]]:
    """Poll until every request has finished; returns the final documents by request id."""
    finished: dict[str, dict[str, Any]] = {}
    last_change: dict[str, tuple[str, float]] = {}
    warned: set[str] = set()
    deadline = clock() + timeout
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        board = _Board(progress, single=len(request_ids) == 1)
        while True:
            for request_id in request_ids:
                if request_id in finished:
                    continue
                answer = client.status(request_id)
                document = answer.body
                board.show(document)
                if answer.status != 202:
                    finished[request_id] = document
                    continue
                fingerprint = repr((document["state"], document["categories"]))
                seen = last_change.get(request_id)
                if seen is None or seen[0] != fingerprint:
                    last_change[request_id] = (fingerprint, clock())
                elif clock() - seen[1] > STALL_WARNING_SECONDS and request_id not in warned:
                    warned.add(request_id)
                    why = document.get("error") or "no error reported; check the host's log"
                    progress.console.print(
                        f"[yellow]{request_id}: no progress for {STALL_WARNING_SECONDS:g}s "
                        f"({document['state']}): {why}[/yellow]"
                    )
            if len(finished) == len(request_ids):
                return finished
            if clock() > deadline:
                waiting = ", ".join(r for r in request_ids if r not in finished)
                raise CliError(f"still running after {timeout:g}s: {waiting} (watch again later)")
            time.sleep(poll_seconds)
