"""The client's public API is ``dsr.customvision.__all__``: everything in it exists, and code outside the
package (tests aside, which may reach internals they test) uses nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dsr.customvision as customvision

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dsr" / "customvision"
OUTSIDE = ["function_app.py", "dsr", "triggers", "activities", "orchestrators", "benchmarks", "devhost"]


def outside_files() -> list[Path]:
    files: list[Path] = []
    for name in OUTSIDE:
        path = ROOT / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if PACKAGE not in f.parents]


def customvision_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every ``from dsr.customvision[...] import name`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dsr.customvision"):
            found.extend((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((a.name, "*") for a in node.names if a.name.startswith("dsr.customvision"))
    return found


def test_every_exported_name_exists_once():
    assert len(customvision.__all__) == len(set(customvision.__all__))
    assert [name for name in customvision.__all__ if not hasattr(customvision, name)] == []


def test_the_package_imports_only_what_it_exports():
    """No name is imported into ``__init__`` without being exported (nothing half-public)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert imported == set(customvision.__all__)


@pytest.mark.parametrize("path", outside_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_code_outside_the_package_uses_only_the_public_api(path: Path):
    used = customvision_imports(path)
    assert [(m, n) for m, n in used if m != "dsr.customvision" or n not in customvision.__all__] == []
