"""Retention on Azurite: the purge deletes working copies by age (exports and subject payloads after
DSR_EXPORT_RETENTION_DAYS, rejected intake items after DSR_REJECTED_RETENTION_DAYS), keeps receipts
and status documents, and records in the status document when and why the files went."""

from __future__ import annotations

import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dsr import layout, retention
from dsr.config import load_settings
from dsr.record_store import RecordStore
from dsr.retention import ExportContainer, purge_expired, retention_terms
from dsr.storage import get_json, put_json
from dsr.times import format_time

EXPORT_FILES = ("req-1/export/tags.json", "req-1/export/manifest.json", "req-1/request/subject.json")


@pytest.fixture
def stores(storage_connection: str) -> tuple[ExportContainer, RecordStore]:
    suffix = uuid.uuid4().hex[:12]
    return (
        ExportContainer.from_connection(storage_connection, f"test-exports-{suffix}"),
        RecordStore.from_connection(storage_connection, f"test-records-{suffix}"),
    )


@pytest.fixture
def settings(storage_connection: str):
    return load_settings(
        {"DSR_STORAGE_CONNECTION": storage_connection, "DSR_KEY_VAULT_URL": "https://vault.example"}
    )


def seed(exports: ExportContainer, records: RecordStore, settings) -> dict:
    for path in EXPORT_FILES:
        put_json(exports, path, {"personal": "data"})
    put_json(exports, "intake/rejected/20260101T000000Z-m1.json", {"reason": "bad"})
    received = format_time(datetime.now(UTC))
    document: dict[str, Any] = {"requestId": "req-1", "receivedAt": received, "state": "succeeded"}
    document["retention"] = retention_terms(received, settings)
    put_json(records, layout.status("req-1"), document)
    put_json(records, "req-1/receipts/images/p1.json", {"receipt": True})
    return document


def names(exports: ExportContainer) -> set[str]:
    return {name for name, _ in exports.created()}


def test_defaults_are_thirty_and_seven_days(settings):
    assert settings.export_retention_days == 30
    assert settings.rejected_retention_days == 7


def test_nothing_goes_before_its_time(stores, settings):
    exports, records = stores
    seed(exports, records, settings)
    report = purge_expired(exports, records, settings, datetime.now(UTC) + timedelta(days=6))
    assert (report.files_deleted, report.rejected_deleted, report.requests_expired) == (0, 0, [])
    assert len(names(exports)) == len(EXPORT_FILES) + 1


def test_rejected_items_go_after_seven_days_exports_stay(stores, settings):
    exports, records = stores
    seed(exports, records, settings)
    report = purge_expired(exports, records, settings, datetime.now(UTC) + timedelta(days=8))
    assert report.rejected_deleted == 1
    assert report.files_deleted == 0
    assert names(exports) == set(EXPORT_FILES)
    assert get_json(records, layout.status("req-1"))["retention"]["expired"] is None


def test_expired_export_is_gone_and_its_status_document_says_when_and_why(stores, settings):
    exports, records = stores
    document = seed(exports, records, settings)
    assert document["retention"]["expiresAt"] == format_time(
        datetime.strptime(document["receivedAt"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=30)
    )
    later = datetime.now(UTC) + timedelta(days=31)
    report = purge_expired(exports, records, settings, later)
    assert report.files_deleted == len(EXPORT_FILES)
    assert report.requests_expired == ["req-1"]
    assert names(exports) == set()
    status = get_json(records, layout.status("req-1"))
    expired = status["retention"]["expired"]
    assert expired["at"] == format_time(later)
    assert expired["filesDeleted"] == len(EXPORT_FILES)
    assert "30 day(s) after they were written" in expired["reason"]
    # Receipts and the status document stay.
    assert {f.path for f in records.list_files("req-1/")} == {
        layout.status("req-1"),
        "req-1/receipts/images/p1.json",
    }
    # A second run finds nothing more to do and leaves the note as it is.
    assert purge_expired(exports, records, settings, later).files_deleted == 0
    assert get_json(records, layout.status("req-1"))["retention"]["expired"] == expired


def test_retention_periods_are_configurable(stores, storage_connection):
    exports, records = stores
    short = load_settings(
        {
            "DSR_STORAGE_CONNECTION": storage_connection,
            "DSR_KEY_VAULT_URL": "https://vault.example",
            "DSR_EXPORT_RETENTION_DAYS": "2",
            "DSR_REJECTED_RETENTION_DAYS": "1",
        }
    )
    seed(exports, records, short)
    report = purge_expired(exports, records, short, datetime.now(UTC) + timedelta(days=3))
    assert (report.files_deleted, report.rejected_deleted) == (len(EXPORT_FILES), 1)


def _traced_peak_of_purge(storage_connection: str, settings, blobs: int) -> int:
    exports = ExportContainer.from_connection(
        storage_connection, f"test-exports-{uuid.uuid4().hex[:12]}", pool_size=16
    )
    records = RecordStore.from_connection(storage_connection, f"test-records-{uuid.uuid4().hex[:12]}")
    exports.put_bytes("warm-up", b"", "text/plain")  # creates the container outside the measurement
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda n: exports.put_bytes(f"r-{n % 7}/export/f{n:05d}", b"x", "text/plain"), range(blobs)
            )
        )
    later = datetime.now(UTC) + timedelta(days=settings.export_retention_days + 1)
    tracemalloc.start()
    try:
        report = purge_expired(exports, records, settings, later)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.files_deleted == blobs + 1
    return peak


def test_the_purge_holds_one_listing_page_however_full_the_container(
    storage_connection: str, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The export container can hold millions of blobs; a purge that lists them all before deleting
    # holds them all at once (it did: its memory grew with the container, measured at 100k images).
    monkeypatch.setattr(retention, "PURGE_PAGE_SIZE", 25)
    small = _traced_peak_of_purge(storage_connection, settings, 100)
    large = _traced_peak_of_purge(storage_connection, settings, 400)
    assert large < 1.5 * small, f"peak {large} bytes for 400 blobs against {small} for 100"


def test_a_purge_beside_a_running_request_holds_a_few_mib_at_most(storage_connection: str, settings) -> None:
    # The timer fires while requests run in the same worker, so its page is added to their peak: at
    # 1,000 blobs a page the purge alone held 13.5 MiB (traced), as much as a 100k delete grows by.
    peak = _traced_peak_of_purge(storage_connection, settings, retention.PURGE_PAGE_SIZE + 10)
    assert peak < 4 * 2**20, f"the purge held {peak / 2**20:.1f} MiB"
