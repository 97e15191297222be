"""Azurite is pinned to a release whose declared Node.js range includes the Node.js on this machine."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parents[2] / "devstack" / "node"


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def satisfies(current: tuple[int, ...], declared: str) -> bool:
    """The ``>=X[.Y[.Z]]`` ranges Azurite releases declare (anything else fails loudly)."""
    match = re.fullmatch(r"\s*>=\s*(\d+(?:\.\d+){0,2})\s*", declared)
    assert match, f"unexpected engines.node range {declared!r}: teach this test to read it"
    return current >= version(match.group(1))


def test_range_reader_can_refuse():
    assert satisfies((20, 20, 2), ">=10.0.0")
    assert not satisfies((20, 20, 2), ">=22.0.0")


def test_pinned_azurite_declares_support_for_this_node():
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["azurite"]
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/azurite"]
    assert locked["version"] == pinned
    installed = json.loads((NODE_DIR / "node_modules" / "azurite" / "package.json").read_text())
    assert installed["version"] == pinned  # setup.sh installed what is pinned
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    assert satisfies(version(node), installed["engines"]["node"]), (node, installed["engines"])
