"""Every Bicep file parses.

No Bicep compiler installs from the registries this project reaches; ``pycep-parser`` (PyPI, a Lark
grammar of Bicep, in requirements-dev.txt) checks syntax only — not types, references or API versions.
"""

from __future__ import annotations

from pathlib import Path

import pycep
import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"


@pytest.mark.parametrize(
    "path", sorted(INFRA.rglob("*.bicep")), ids=lambda p: p.relative_to(INFRA).as_posix()
)
def test_bicep_file_parses(path: Path) -> None:
    parsed = pycep.BicepParser().parse(file_path=path)
    assert parsed, path.name
