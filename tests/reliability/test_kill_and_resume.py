"""Issue 8 defect 2: kill -9 of the host mid-export and mid-delete, then restart. The output must
equal a clean run's (timestamps aside), receipts must be exact, and nothing outside the scope may go."""

from __future__ import annotations

import pytest

from tests.reliability.harness import check_equal, export_files
from tests.reliability.scenarios import kill_delete, kill_export

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_export_killed_mid_image_page_and_resumed_equals_a_clean_run(rel, host, clean_export_run):
    # Killed with 10 originals copied and the rest of the page not; the soak kills at four more points.
    kill_export(rel, host, clean_export_run, "DownloadImage", 10)


@pytest.mark.parametrize(
    ("operation", "after", "then"),
    [("DeleteImages", 1, "drop"), ("DeleteImages", 2, "apply"), ("GetImages", -1, "drop")],
)
def test_delete_killed_and_resumed_has_exact_receipts(rel, host, clean_delete_run, operation, after, then):
    kill_delete(rel, host, clean_delete_run, operation, after, then)


def test_the_comparison_notices_a_changed_or_missing_file(rel, host, clean_export_run):
    """The checks above can fail: a file whose bytes no longer match the manifest, and an output that
    lacks one image, are both caught."""
    folder = rel.folder(clean_export_run.request_id)
    document = rel.records(clean_export_run.request_id).json(f"{clean_export_run.request_id}/status.json")
    image = next(name for name in folder.names() if "/images/" in name and name.endswith(".png"))
    original = folder.read(image)
    folder.container.upload_blob(image, original + b"\0", overwrite=True)
    try:
        with pytest.raises(AssertionError, match="sha256"):
            export_files(rel, document)
    finally:
        folder.container.upload_blob(image, original, overwrite=True)
    fewer = dict(clean_export_run.files)
    fewer.pop(next(path for path in fewer if path.endswith(".png")))
    with pytest.raises(AssertionError, match="not as expected"):
        check_equal(rel, "self-check", fewer, clean_export_run.files)
    rel.tally.mismatches.remove("self-check")
