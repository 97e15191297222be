"""The README's map of the code ("How it is built") names what is in the tree, and nothing that is not."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _map() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## How it is built", 1)[1].split("```", 2)[1]


def _block(start: str, end: str) -> set[str]:
    """The words of the map from the line of ``start`` to the line of ``end``."""
    text = _map().split(f"\n{start}", 1)[1].split(f"\n{end}", 1)[0]
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*/?", text))


def _parts(folder: str) -> set[str]:
    path = ROOT / folder
    modules = {p.stem for p in path.glob("*.py") if p.stem != "__init__"}
    return modules | {f"{p.name}/" for p in path.iterdir() if (p / "__init__.py").exists()}


def test_each_line_of_the_map_names_what_exists():
    heads = [line.split()[0] for line in _map().splitlines() if line.strip() and not line.startswith(" ")]
    named = [part for head in heads for part in head.split(",") if part]
    assert all((ROOT / part).exists() for part in named), named
    tracked = {p.name + "/" for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert tracked <= set(named), sorted(tracked - set(named))


def test_every_domain_module_is_on_the_map():
    words = _block("dsr/", "devhost/")
    assert _parts("dsr") <= words, sorted(_parts("dsr") - words)


def test_every_trigger_module_is_on_the_map():
    words = _block("triggers/", "orchestrators/")
    assert _parts("triggers") | {"openapi.json"} <= words, sorted(_parts("triggers") - words)
    assert {w for w in words if w.endswith(".json")} <= {p.name for p in (ROOT / "triggers").iterdir()}
