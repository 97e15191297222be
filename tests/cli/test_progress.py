"""``watch`` follows status answers until they end, and says when a request stops moving."""

from __future__ import annotations

import itertools

from rich.console import Console

from cvdsr.client import Answer
from cvdsr.progress import STALL_WARNING_SECONDS, watch


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
