"""Issue 8 defect 2: kill -9 of the host mid-export and mid-delete, then restart. The output must
equal a clean run's (timestamps aside), receipts must be exact, and nothing outside the scope may go."""

from __future__ import annotations

import pytest

from tests.reliability.scenarios import kill_delete, kill_export

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.mark.parametrize(("operation", "after"), [("DownloadImage", 10), ("QueryPredictions", 1)])
def test_export_killed_and_resumed_equals_a_clean_run(rel, host, clean_export_run, operation, after):
    kill_export(rel, host, clean_export_run, operation, after)


@pytest.mark.parametrize(
    ("operation", "after", "then"),
    [("DeleteImages", 1, "drop"), ("DeleteImages", 2, "apply"), ("GetImagesByIds", 0, "drop")],
)
def test_delete_killed_and_resumed_has_exact_receipts(rel, host, clean_delete_run, operation, after, then):
    kill_delete(rel, host, clean_delete_run, operation, after, then)
