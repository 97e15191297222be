"""Fixtures for this folder; also makes the repo root importable when pytest runs from the venv script."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# `.venv/bin/pytest` does not put the working directory on sys.path (pyproject sets no pythonpath).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
