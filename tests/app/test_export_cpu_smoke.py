"""``benchmarks/export_cpu.py`` at a smoke size, so it keeps working; its figures are only printed."""

from __future__ import annotations

import pytest

from benchmarks.export_cpu import PHASES, main

pytestmark = pytest.mark.services


def test_every_phase_runs_over_every_image(monkeypatch):
    # The benchmark points the settings at its own emulator: keep that out of the other tests.
    monkeypatch.setenv("DSR_ALLOWED_ENDPOINT_ORIGINS", "")
    monkeypatch.setenv("DSR_CV_RATE_LIMIT_PER_SECOND", "10")
    arguments = "--images 12 --repeat 1 --large-count 1 --large-mib 4.5 --no-worker-logging"  # 4.5: blocks
    runs = main(arguments.split())
    assert list(runs) == list(PHASES)
    assert {name: [run.images for run in phase] for name, phase in runs.items()} == {
        **{name: [12] for name in PHASES},
        "large_copy": [1],
    }
    assert all(run.cpu_ms > 0 for phase in runs.values() for run in phase)
