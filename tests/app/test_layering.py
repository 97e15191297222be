"""Dependencies point one way: triggers -> orchestrators -> activities -> domain; dev tools stay out.

Triggers and activities meet the orchestrators only through the wire contract (``dsr/wire.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ["function_app.py", "dsr", "triggers", "orchestrators", "activities"]
DEV_ONLY = ("devhost", "devstack", "emulator", "cvdsr", "tests", "benchmarks", "scripts")


def python_files(*roots: str) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        path = ROOT / root
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", python_files(*DEPLOYED), ids=lambda p: str(p.relative_to(ROOT)))
def test_deployed_code_never_imports_dev_tools(path):
    assert not {m for m in imports(path) if m.split(".")[0] in DEV_ONLY}


@pytest.mark.parametrize("path", python_files("dsr"), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_code_does_not_import_the_functions_sdk(path):
    assert not {m for m in imports(path) if m.startswith(("azure.functions", "azure.durable_functions"))}


@pytest.mark.parametrize("path", python_files("orchestrators"), ids=lambda p: str(p.relative_to(ROOT)))
def test_orchestrators_do_no_io(path):
    io_modules: tuple[str, ...] = (
        *("dsr.customvision", "dsr.storage", "dsr.secrets", "dsr.runtime", "dsr.accounts", "dsr.config"),
        *("dsr.export", "dsr.erasure", "dsr.callbacks", "requests", "azure.storage", "azure.identity"),
        *("dsr.records", "dsr.journal", "dsr.subjects"),
    )
    assert not {m for m in imports(path) if m.startswith(io_modules)}


def test_dev_tools_are_not_deployed():
    ignored = {line.strip() for line in (ROOT / ".funcignore").read_text().splitlines()}
    assert set(DEV_ONLY) <= ignored


@pytest.mark.parametrize(("module", "other"), [("erasure", "export"), ("export", "erasure")])
def test_export_and_erasure_share_machinery_only_through_the_unit_runner(module, other):
    """What both need (running a unit, project-gone, subject scope) lives in dsr/unit_runner.py and
    dsr/subjects.py, so neither operation depends on the other."""
    assert f"dsr.{other}" not in imports(ROOT / "dsr" / f"{module}.py")


@pytest.mark.parametrize(
    "path", python_files("activities", "triggers"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_callees_and_starters_never_import_the_orchestrators(path):
    # What they share with the orchestrators (function names, payload shapes) lives in dsr/wire.py.
    assert not {m for m in imports(path) if m.split(".")[0] == "orchestrators"}


TASK_BOOKKEEPING = {"tasks", "pending"}
"""The orchestrators' own collections of pending tasks: never sent anywhere, so they may change."""


def _changed_name(node: ast.expr) -> str | None:
    """The name whose item or method is used (``x`` of ``x[k]`` or ``x.update``), if a plain name."""
    if isinstance(node, ast.Subscript | ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id
    return None


@pytest.mark.parametrize("path", python_files("orchestrators"), ids=lambda p: str(p.relative_to(ROOT)))
def test_orchestrators_write_no_document_keys(path):
    # The status document (and every other value they pass on) changes only through dsr/status.py's
    # transitions: no item assignment, no in-place update, in the orchestrators.
    tree = ast.parse(path.read_text())
    targets = [
        target
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
    ]
    item_writes = [
        t.lineno for t in targets if isinstance(t, ast.Subscript) and _changed_name(t) not in TASK_BOOKKEEPING
    ]
    in_place = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"update", "setdefault", "extend", "append", "pop", "clear"}
        and _changed_name(node.func) not in TASK_BOOKKEEPING
    ]
    assert (item_writes, in_place) == ([], [])
