"""Every Bicep file parses, where a Bicep parser is installed.

No Bicep compiler installs from the registries this project reaches; ``pycep-parser`` (PyPI, a Lark
grammar of Bicep) checks syntax only — not types, references or API versions. It is not a project
dependency, so this test is skipped unless it is installed (``.venv/bin/pip install pycep-parser``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"


@pytest.mark.parametrize(
    "path", sorted(INFRA.rglob("*.bicep")), ids=lambda p: p.relative_to(INFRA).as_posix()
)
def test_bicep_file_parses(path: Path) -> None:
    pycep = pytest.importorskip("pycep")
    parsed = pycep.BicepParser().parse(file_path=path)
    assert parsed, path.name
