"""Of writers racing with the same precondition, the storage lets exactly one win, as Azure does.

Claims, the request index and the receipt chain's head and sealed copies all rest on this
(``RecordStore.replace``, ``create_bytes``, ``put_bytes_if_match``). It is a property of the storage
under the app, so it is checked here against the stack the tests run on: Azurite over its MariaDB
metadata store (``DSR_AZURITE_SQL=1``, for the benchmarks) lets several of six concurrent
conditional writers succeed, so the tests must not run on it (docs/local-stack.md).
"""

from __future__ import annotations

import hashlib
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


def _swap_file(records: RecordStore, path: str, etag: str, writer: int) -> None:
    records.put_bytes_if_match(path, str(writer).encode(), "application/json", etag)


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


def test_one_of_concurrent_if_match_writes_wins(records: RecordStore) -> None:
    winners = []
    for round_ in range(ROUNDS):
        path = f"copies/{round_}.json"
        records.put_bytes(path, b"0", "application/json")
        stored = records.read(path)
        assert stored is not None
        winners.append(_winners(partial(_swap_file, records, path, stored.etag)))
    assert winners == [1] * ROUNDS


def test_an_if_match_write_keeps_the_sha256_and_refuses_a_stale_or_missing_file(records: RecordStore) -> None:
    records.put_bytes("copy.json", b"0", "application/json")
    stale = records.read("copy.json")
    assert stale is not None
    ref = records.put_bytes_if_match("copy.json", b"1", "application/json", stale.etag)
    assert ref.sha256 == hashlib.sha256(b"1").hexdigest()
    assert records.list_files("copy.json") == [ref]  # the sha256 is stored beside it, as put_bytes does
    with pytest.raises(StoredFileExistsError):
        records.put_bytes_if_match("copy.json", b"2", "application/json", stale.etag)
    assert records.get_bytes("copy.json") == b"1"
    current = records.read("copy.json")
    assert current is not None
    records._container.delete_blob("copy.json")
    with pytest.raises(StoredFileExistsError):
        records.put_bytes_if_match("copy.json", b"3", "application/json", current.etag)
    assert records.read("copy.json") is None
