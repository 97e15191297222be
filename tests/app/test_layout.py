"""dsr/layout.py is the one place a blob path is spelled; what it spells, it can also read back."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsr import layout
from dsr.categories import Category

ROOT = Path(__file__).resolve().parents[2]
APP = ["function_app.py", "dsr", "triggers", "activities", "orchestrators"]
EXEMPT = {
    ROOT / "dsr" / "layout.py",
    # The Training API's URL paths, not blob paths.
    *(ROOT / "dsr" / "customvision").rglob("*.py"),
}


def app_files() -> list[Path]:
    files: list[Path] = []
    for name in APP:
        path = ROOT / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if f not in EXEMPT]


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _path_like(text: str) -> bool:
    """A ``/`` in text without spaces (prose like "key/value pairs" has them) that is not a URL."""
    return "/" in text and "://" not in text and not any(c.isspace() for c in text)


def hand_built_paths(path: Path) -> list[str]:
    """Places that join or cut a path with ``/`` themselves: an f-string with a ``/`` between its
    parts, a ``+ "/"``, or a split / partition / removeprefix at ``/``. URLs (``://``) are not paths."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.JoinedStr):
            literal = "".join(part for v in node.values if (part := _text(v)) is not None)
            if _path_like(literal):
                found.append(f"{where} f-string {literal!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            for side in (node.left, node.right):
                text = _text(side)
                if text is not None and _path_like(text):
                    found.append(f"{where} + {text!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"split", "rsplit", "partition", "rpartition", "removeprefix"}
            and node.args
            and "/" in (_text(node.args[0]) or "")
        ):
            found.append(f"{where} .{node.func.attr}({_text(node.args[0])!r})")
    return found


def test_the_scan_finds_a_hand_built_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    sample = tmp_path / "sample.py"
    sample.write_text(
        'def f(r, p):\n    a = f"{r}/export/{p}"\n    b = r + "/status.json"\n    return a.split("/")[3], b\n'
    )
    assert len(hand_built_paths(sample)) == 3


@pytest.mark.parametrize("path", app_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_app_code_spells_no_blob_path_itself(path: Path):
    assert hand_built_paths(path) == []


LAYOUT_NAMES = ("_records", "_ratebudget", "intake/rejected", "status.json", "receipts/", "journal/")


def _prose(tree: ast.AST) -> set[int]:
    """The string statements: docstrings of modules, classes, functions and attributes."""
    return {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and _text(node.value)}


@pytest.mark.parametrize("path", app_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_but_layout_names_a_blob_folder(path: Path):
    tree = ast.parse(path.read_text())
    prose = _prose(tree)
    named = [
        text
        for node in ast.walk(tree)
        if (text := _text(node)) is not None
        and id(node) not in prose
        and any(n in text for n in LAYOUT_NAMES)
    ]
    assert named == []


def test_paths_read_back():
    rid, pid = "req-1", "0b1c4a4e-5b8e-4a39-9f6a-1f2d3c4b5a69"
    assert layout.request_of(layout.image_part(rid, pid, 0)) == rid
    assert layout.project_of_image_file(rid, layout.image_part(rid, pid, 256)) == pid
    assert layout.project_of_image_file(rid, layout.category_file(rid, Category.TAGS)) is None
    assert layout.project_of_image_file("other", layout.image_part(rid, pid, 0)) is None
    member = "images/p/images-0000000.ndjson"
    assert layout.export_member_name(rid, layout.export_member(rid, member)) == member
    assert layout.export_member_name(rid, layout.status(rid)) is None
    assert layout.request_of_record(layout.record(rid)) == rid
    assert layout.request_of_record(layout.status(rid)) is None
    assert layout.unit_of_receipt(rid, layout.receipt(rid, "images", pid)) == "images"
    assert layout.unit_of_receipt(rid, layout.receipt(rid, "accountInfo", None)).endswith("accountInfo")
    assert layout.is_performance_file(layout.performance_part(rid, pid, "it", 0))
    assert not layout.is_performance_file(layout.image_part(rid, pid, 0))
    assert layout.rejected_item(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "m", 0).startswith(
        layout.REJECTED_PREFIX + "20260102T030405Z-m-0"
    )


def test_part_names_sort_in_listing_order():
    rid, pid = "req-1", "p"
    parts = [layout.image_part(rid, pid, start) for start in (0, 256, 2560, 25600)]
    assert sorted(parts) == parts


def test_a_journal_plan_names_its_unit():
    for unit, project in (("images", "0f4c3d2e-1b2a-4c3d-8e9f-001122334455"), ("iterations", None)):
        plan = layout.journal_plan(layout.journal_root("r-1", unit, layout.unit_scope(project)))
        assert layout.unit_of_plan("r-1", plan) == (unit, project)
    assert layout.unit_of_plan("r-1", "r-1/journal/images/p/step-000001.json") is None
    assert layout.unit_of_plan("r-1", "r-2/journal/images/p/plan.json") is None


def test_a_to_step_receipt_names_the_attempt_after_the_first():
    # Before: every attempt refused at the same step wrote the same name, overwriting the receipt the
    # first attempt had sealed. The first attempt's name is unchanged, so earlier receipts stay valid.
    rid, pid = "r-1", "0f4c3d2e-1b2a-4c3d-8e9f-001122334455"
    first = layout.partial_receipt(rid, "images", pid, 1)
    assert first == f"r-1/receipts/images/{pid}.to-step-000001.json"
    assert layout.partial_receipt(rid, "images", pid, 1, 1) == first
    again = layout.partial_receipt(rid, "images", pid, 1, 2)
    assert again == f"r-1/receipts/images/{pid}.to-step-000001.attempt-02.json"
    assert layout.unit_of_receipt(rid, again) == "images"
    assert again not in {layout.receipt(rid, "images", pid), layout.attempt_receipt(rid, "images", pid, 2)}
