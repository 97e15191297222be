"""``benchmarks/delete_memory.py`` at a smoke size, so it keeps working; its figures are only printed."""

from __future__ import annotations

import pytest

from benchmarks.delete_memory import main

pytestmark = pytest.mark.services


def test_both_sizes_are_deleted_verified_and_traced(monkeypatch, capsys):
    # The benchmark points the settings at its own emulator: keep that out of the other tests.
    monkeypatch.setenv("DSR_ALLOWED_ENDPOINT_ORIGINS", "")
    monkeypatch.setenv("DSR_CV_RATE_LIMIT_PER_SECOND", "10")
    peaks = main(20)  # raises unless every delete verified
    assert sorted(peaks) == [4, 20]
    assert all(peak > 0 for peak in peaks.values())
    assert "largest allocation sites" in capsys.readouterr().out
