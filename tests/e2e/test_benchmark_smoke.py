"""The benchmark suite at a smoke size, so it keeps working: the whole stack, the SDK baseline and a
bulk run, and the figures that do not depend on timing, the calls an export and a delete make."""

from __future__ import annotations

import pytest

from benchmarks.rate_bound import main

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_benchmark_suite_runs_and_export_and_delete_make_the_minimal_calls(capsys):
    arguments = "--sizes 40 --rate 40 --latency 0 --download-latency 0 --bulk 2 --bulk-images 8"
    figures = main(arguments.split())
    rows = figures["sizes"][40]
    assert list(rows) == ["app export", "app delete", "SDK baseline export", "SDK baseline delete"]
    export, delete, baseline_export, baseline_delete = rows.values()
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


def test_a_delete_runs_alone_on_data_no_export_has_read(capsys):
    arguments = "--sizes 40 --rate 40 --latency 0 --download-latency 0 --operations delete"
    figures = main(arguments.split())
    assert "bulk" not in figures  # the bulk run is exports: not part of a delete-only run
    rows = figures["sizes"][40]
    assert list(rows) == ["app delete", "SDK baseline delete"]
    assert rows["app delete"].calls == rows["app delete"].minimal
    assert "copy_floor" not in figures  # the floor is the export's bound
    out = capsys.readouterr().out
    assert "speed-up over the SDK baseline, delete" in out
    assert "speed-up over the SDK baseline, export" not in out


@pytest.mark.parametrize("operations", ["", "copy", "export,export", "delete,purge"])
def test_operations_outside_export_and_delete_are_refused(operations, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["--operations", operations])
    assert refused.value.code == 2
    assert "--operations" in capsys.readouterr().err


def test_a_bulk_run_without_the_export_is_refused(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["--operations", "delete", "--bulk", "3"])
    assert refused.value.code == 2
    assert "--bulk" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments",
    [
        ["--sizes", "1k"],
        ["--sizes", "10"],  # not a multiple of the 4 projects
        ["--sizes", ""],
        ["--rate", "0"],
        ["--rate", "nan"],
        ["--latency", "-0.1"],
        ["--bulk", "-1"],
        ["--bulk-images", "0"],
    ],
)
def test_bad_figures_are_refused_before_anything_starts(arguments, capsys):
    with pytest.raises(SystemExit) as refused:
        main(arguments)
    assert refused.value.code == 2
    assert arguments[0] in capsys.readouterr().err
