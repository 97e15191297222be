"""The benchmark suite at a smoke size, so it keeps working: the whole stack, the SDK baseline and a
bulk run, and the figures that do not depend on timing, the calls an export and a delete make."""

from __future__ import annotations

import pytest

from benchmarks.rate_bound import main

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_benchmark_suite_runs_and_export_and_delete_make_the_minimal_calls(capsys):
    arguments = "--sizes 40 --rate 40 --latency 0 --download-latency 0 --bulk 2 --bulk-images 8"
    figures = main(arguments.split())
    export, delete, baseline_export, baseline_delete = figures["sizes"][40]
    assert export.calls == export.minimal  # every listing once, nothing re-read
    assert export.throttled == 0  # the client keeps under the limit; 429 is only the backstop
    assert baseline_export.calls == baseline_export.minimal  # the baseline lists just as little
    assert delete.calls == delete.minimal  # each listing once, one re-list per scope that can hold a target
    assert delete.throttled == 0
    assert baseline_delete.calls > 0
    assert export.history is not None
    assert export.history < 100  # continue-as-new keeps every instance's history short
    assert figures["copy_floor"][40][1] == 40  # the floor copies every image the export copies
    assert figures["bulk_copy_floor"][1] == 2 * 8
    wall, bound, _ = figures["bulk"]
    assert wall > 0
    assert bound > 0
    assert "speed-up over the SDK baseline" in capsys.readouterr().out
