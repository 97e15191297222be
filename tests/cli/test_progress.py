"""``watch`` follows status answers until they end, and says when a request stops moving."""

from __future__ import annotations

import itertools

from rich.console import Console
from rich.progress import Progress

from cvdsr.client import Answer
from cvdsr.progress import STALL_WARNING_SECONDS, _Board, deleted_of_targeted, watch


def document(state: str, categories: dict[str, str], error: str | None = None) -> dict:
    return {
        "requestId": "r1",
        "state": state,
        "error": error,
        "categories": {name: {"state": s, "counts": {"n": 1}} for name, s in categories.items()},
    }


class ScriptedClient:
    def __init__(self, answers: list[Answer]) -> None:
        self._answers = iter(answers)
        self.calls = 0

    def status(self, request_id: str) -> Answer:
        self.calls += 1
        return next(self._answers)


def test_watch_ends_with_the_final_document_and_warns_once_when_stuck():
    stuck = document("running", {"images": "running", "tags": "pending"}, error="Key Vault unavailable")
    final = document("succeeded", {"images": "succeeded", "tags": "succeeded"})
    client = ScriptedClient([Answer(202, stuck, None, "")] * 4 + [Answer(200, final, None, "")])
    ticks = itertools.count(step=STALL_WARNING_SECONDS / 2 + 1)
    console = Console(record=True, width=160)
    documents = watch(client, ["r1"], console, poll_seconds=0, clock=lambda: next(ticks))  # type: ignore[arg-type]
    assert documents == {"r1": final}
    assert client.calls == 5
    output = console.export_text()
    assert output.count("no progress for") == 1
    assert "Key Vault unavailable" in output
    assert "images" in output
    assert "succeeded" in output


def test_a_running_delete_fills_its_bar_with_what_it_deleted_of_what_it_targets():
    assert deleted_of_targeted({"imagesTargeted": 400, "imagesDeleted": 100, "apiCalls": 9}) == (100, 400)
    assert deleted_of_targeted({"tagsTargeted": 3, "tagsDeleted": 3, "iterationsTargeted": 5}) == (3, 3)
    assert deleted_of_targeted({"imagesTargeted": 0, "imagesDeleted": 0}) is None  # nothing listed yet
    assert deleted_of_targeted({"images": 150, "apiCalls": 12}) is None  # an export: no total known


def test_a_running_delete_s_bar_has_its_targets_as_total_and_an_export_s_none():
    progress = Progress()
    board = _Board(progress, single=True)
    running = document("running", {"images": "running", "tags": "running"})
    running["categories"]["images"]["counts"] = {"imagesTargeted": 400, "imagesDeleted": 100}
    board.show(running)
    images, tags = progress.tasks
    assert (images.completed, images.total) == (100, 400)
    assert tags.total is None  # counts without targets: it pulses
