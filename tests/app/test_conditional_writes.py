"""Of writers racing with the same precondition, the storage lets exactly one win, as Azure does.

Claims, the request index and the receipt chain's head all rest on this (``RecordStore.replace``,
``create_bytes``). It is a property of the storage under the app, so it is checked here against the
stack the tests run on: Azurite over its MariaDB metadata store (``DSR_AZURITE_SQL=1``, for the
benchmarks) lets several of six concurrent conditional writers succeed, so the tests must not run
on it (docs/local-stack.md).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from functools import partial

import pytest

from dsr.record_store import RecordConflictError, RecordStore
from dsr.storage import StoredFileExistsError

pytestmark = pytest.mark.services

WRITERS = 6
ROUNDS = 10


def _winners(write: Callable[[int], None]) -> int:
    """How many of WRITERS threads, released at once, get ``write(n)`` through."""
    start = threading.Barrier(WRITERS)
    won: list[int] = []

    def attempt(n: int) -> None:
        start.wait()
        try:
            write(n)
        except (RecordConflictError, StoredFileExistsError):
            return
        won.append(n)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return len(won)


def _create(records: RecordStore, path: str, writer: int) -> None:
    records.create_bytes(path, str(writer).encode(), "application/json")


def _swap(records: RecordStore, path: str, etag: str, writer: int) -> None:
    records.replace(path, str(writer).encode(), etag)


@pytest.fixture
def records(storage_connection: str) -> RecordStore:
    return RecordStore.from_connection(storage_connection, f"test-{uuid.uuid4().hex[:12]}")


def test_one_of_concurrent_creates_wins(records: RecordStore) -> None:
    records.put_bytes("warm", b"{}", "application/json")  # the container exists before the race
    winners = []
    for round_ in range(ROUNDS):
        path = f"claims/{round_}.json"
        winners.append(_winners(partial(_create, records, path)))
    assert winners == [1] * ROUNDS


def test_one_of_concurrent_compare_and_swaps_wins(records: RecordStore) -> None:
    winners = []
    for round_ in range(ROUNDS):
        path = f"heads/{round_}.json"
        records.put_bytes(path, b"0", "application/json")
        stored = records.read(path)
        assert stored is not None
        winners.append(_winners(partial(_swap, records, path, stored.etag)))
    assert winners == [1] * ROUNDS


def test_a_stale_etag_is_refused(records: RecordStore) -> None:
    """The check the race tests rely on: a writer holding an old ETag loses even when alone."""
    records.put_bytes("head.json", b"0", "application/json")
    stale = records.read("head.json")
    assert stale is not None
    records.replace("head.json", b"1", stale.etag)
    with pytest.raises(RecordConflictError):
        records.replace("head.json", b"2", stale.etag)
    current = records.read("head.json")
    assert current is not None
    assert current.data == b"1"
