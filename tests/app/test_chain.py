"""The receipt hash chain on Azurite: sealing links each receipt to the account's previous one, a
receipt altered or removed in storage is reported as the first break, concurrent requests of one
account still form one linear chain, and sealing again is harmless."""

from __future__ import annotations

import hashlib
import json
import threading
import tracemalloc
import uuid
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from dsr.chain import chain_id, head_path, seal_receipts, seal_request_receipts, verify_chain
from dsr.record_store import RecordStore
from dsr.storage import BlobExportStore, get_json, put_json


@pytest.fixture
def records(storage_connection: str) -> RecordStore:
    return RecordStore.from_connection(storage_connection, f"test-records-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def endpoint() -> str:
    return f"https://cv-{uuid.uuid4().hex[:8]}.cognitiveservices.azure.com"


def write_receipts(store: BlobExportStore, request_id: str, count: int) -> list[str]:
    paths = []
    for index in range(count):
        path = f"{request_id}/receipts/images/project-{index}.json"
        put_json(store, path, {"requestId": request_id, "category": "images", "deleted": {"count": index}})
        paths.append(path)
    return paths


def raw_container(records: RecordStore, storage_connection: str) -> ContainerClient:
    return ContainerClient.from_connection_string(storage_connection, records._container.container_name)


def test_sealed_receipts_link_to_their_predecessors(export_store, records, endpoint):
    first = seal_receipts(records, export_store, endpoint, write_receipts(export_store, "req-1", 2))
    second = seal_receipts(records, export_store, endpoint, write_receipts(export_store, "req-2", 1))
    chained = [get_json(records, ref.path)["chain"] for ref in first + second]
    assert [c["sequence"] for c in chained] == [1, 2, 3]
    assert chained[0]["previous"] is None
    assert chained[1]["previous"] == {"path": first[0].path, "sha256": first[0].sha256}
    assert chained[2]["previous"] == {"path": first[1].path, "sha256": first[1].sha256}
    assert {c["id"] for c in chained} == {chain_id(endpoint)}
    for ref in first + second:
        assert hashlib.sha256(records.get_bytes(ref.path)).hexdigest() == ref.sha256
    # The original receipt content is kept as it was, beside the chain block.
    assert get_json(records, first[1].path)["deleted"] == {"count": 1}
    head = get_json(records, head_path(endpoint))
    assert head["sequence"] == 3
    assert head["last"] == {"path": second[0].path, "sha256": second[0].sha256}
    report = verify_chain(records, endpoint)
    assert report.ok
    assert report.length == 3
    assert report.verified == 3
    assert report.to_json()["firstBreak"] is None


def test_an_altered_receipt_is_reported_as_the_first_break(
    export_store, records, endpoint, storage_connection
):
    refs = seal_receipts(records, export_store, endpoint, write_receipts(export_store, "req-a", 4))
    container = raw_container(records, storage_connection)
    document = json.loads(container.download_blob(refs[1].path).readall())
    document["deleted"]["count"] = 999  # someone with storage access edits the record
    container.upload_blob(refs[1].path, json.dumps(document).encode(), overwrite=True)
    report = verify_chain(records, endpoint)
    assert not report.ok
    assert report.first_break is not None
    assert (report.first_break.sequence, report.first_break.path) == (2, refs[1].path)
    assert "altered" in report.first_break.reason
    assert report.verified == 3


def test_the_earliest_of_several_breaks_comes_first(export_store, records, endpoint, storage_connection):
    refs = seal_receipts(records, export_store, endpoint, write_receipts(export_store, "req-b", 5))
    container = raw_container(records, storage_connection)
    for ref in (refs[3], refs[0]):
        document = json.loads(container.download_blob(ref.path).readall())
        document["note"] = "edited"
        container.upload_blob(ref.path, json.dumps(document).encode(), overwrite=True)
    report = verify_chain(records, endpoint)
    assert [b.sequence for b in sorted(report.breaks, key=lambda b: b.sequence)] == [1, 4]
    assert report.first_break is not None
    assert report.first_break.path == refs[0].path


def test_a_removed_receipt_is_reported(export_store, records, endpoint, storage_connection):
    refs = seal_receipts(records, export_store, endpoint, write_receipts(export_store, "req-c", 3))
    raw_container(records, storage_connection).delete_blob(refs[2].path)
    report = verify_chain(records, endpoint)
    assert report.first_break is not None
    assert (report.first_break.sequence, report.first_break.reason) == (3, "receipt missing")


def test_sealing_again_changes_nothing(export_store, records, endpoint):
    paths = write_receipts(export_store, "req-d", 2)
    first = seal_receipts(records, export_store, endpoint, paths)
    seal_receipts(records, export_store, endpoint, write_receipts(export_store, "req-e", 1))
    again = seal_receipts(records, export_store, endpoint, paths)  # a retried activity
    assert again == first
    assert get_json(records, head_path(endpoint))["sequence"] == 3
    assert verify_chain(records, endpoint).ok


def test_concurrent_requests_of_one_account_form_one_linear_chain(export_store, records, endpoint):
    batches = [write_receipts(export_store, f"req-{n}", 2) for n in range(6)]
    start = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def seal(paths: list[str]) -> None:
        try:
            start.wait()
            seal_receipts(records, export_store, endpoint, paths)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=seal, args=(paths,)) for paths in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    report = verify_chain(records, endpoint)
    assert report.ok
    assert report.length == 12
    assert report.verified == 12
    sequences = sorted(get_json(records, p)["chain"]["sequence"] for paths in batches for p in paths)
    assert sequences == list(range(1, 13))


def test_each_account_has_its_own_chain(export_store, records, endpoint):
    other = endpoint.replace("cv-", "cv-other-")
    seal_receipts(records, export_store, endpoint, write_receipts(export_store, "req-x", 1))
    seal_receipts(records, export_store, other, write_receipts(export_store, "req-y", 1))
    assert get_json(records, "req-y/receipts/images/project-0.json")["chain"]["sequence"] == 1
    assert verify_chain(records, endpoint).length == verify_chain(records, other).length == 1


def test_a_status_document_points_at_the_sealed_receipts(export_store, records, endpoint):
    paths = write_receipts(export_store, "req-s", 2)
    unsealed = [export_store.list_files(p)[0].to_json() for p in paths]
    document: Any = {
        "operation": "delete",
        "request": {"account": {"endpoint": endpoint}},
        "categories": {
            "images": {"receipt": {"files": [dict(f) for f in unsealed]}},
            "accountInfo": {"receipt": None},
        },
    }
    document = seal_request_receipts(document, records, export_store)
    files = document["categories"]["images"]["receipt"]["files"]
    assert [f["path"] for f in files] == paths
    for file in files:
        assert file["sha256"] == hashlib.sha256(records.get_bytes(file["path"])).hexdigest()
        assert file["sha256"] not in {u["sha256"] for u in unsealed}


def _traced_peak_of_sealing(export_store, records, endpoint: str, receipts: int) -> int:
    # Receipts of 10k ids each, like a project's images receipt at 40k images.
    ids = [str(uuid.UUID(int=n)) for n in range(10_000)]
    request_id = f"big-{receipts}"
    paths = [f"{request_id}/receipts/images/project-{n}.json" for n in range(receipts)]
    for path in paths:
        put_json(
            export_store, path, {"requestId": request_id, "targeted": {"ids": ids}, "deleted": {"ids": ids}}
        )
    tracemalloc.start()
    try:
        sealed = seal_receipts(records, export_store, endpoint, paths)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [ref.path for ref in sealed] == paths
    return peak


def test_sealing_holds_one_receipt_at_a_time(export_store, records, endpoint):
    # A delete of 100k images has four receipts of 25k ids; reading them all before writing any held
    # them all at once, at the very end of the request, where the host's peak memory was.
    one = _traced_peak_of_sealing(export_store, records, endpoint, 1)
    four = _traced_peak_of_sealing(export_store, records, endpoint, 4)
    assert four < 1.6 * one, f"peak {four} bytes sealing four receipts, {one} sealing one"


class HookedRecords(RecordStore):
    """A records store that runs ``before_swap`` once, just before the next compare-and-swap of a chain
    head, and ``before_write`` once, just before the next write of a sealed copy: another sealer's
    whole run fits in there, as it can between two requests of a real one."""

    before_swap: Any = None
    before_write: Any = None

    def replace(self, path: str, data: bytes, etag: str | None) -> None:
        if path.startswith("chains/"):
            hook, self.before_swap = self.before_swap, None
            if hook:
                hook()
        super().replace(path, data, etag)

    def _copy_written(self) -> None:
        hook, self.before_write = self.before_write, None
        if hook:
            hook()

    def put_bytes(self, path: str, data: bytes, content_type: str, *, metadata: Any = None) -> Any:
        self._copy_written()
        return super().put_bytes(path, data, content_type, metadata=metadata)

    def put_stream(self, path: str, chunks: Any, content_type: str, *, block_size: int = 4 << 20) -> Any:
        self._copy_written()
        return super().put_stream(path, chunks, content_type, block_size=block_size)

    def create_bytes(self, path: str, data: bytes, content_type: str) -> Any:
        self._copy_written()
        return super().create_bytes(path, data, content_type)

    def put_bytes_if_match(self, path: str, data: bytes, content_type: str, etag: str) -> Any:
        self._copy_written()
        return super().put_bytes_if_match(path, data, content_type, etag)


class HostKilled(BaseException):
    """Where the sealer's host dies: nothing after it runs (a BaseException, as nothing survives kill -9)."""


@pytest.fixture
def hooked(storage_connection: str) -> HookedRecords:
    return HookedRecords.from_connection(storage_connection, f"test-records-{uuid.uuid4().hex[:12]}")


def _sequences(records: RecordStore, paths: list[str]) -> list[int]:
    return [get_json(records, path)["chain"]["sequence"] for path in paths]


def test_a_second_sealer_between_the_copies_and_the_head_swap_leaves_one_link_each(
    export_store, hooked, endpoint
):
    # Two cancels of one request, or a cancel and the request's own write_status: the second seals
    # the same receipts after the first wrote its copies and before it moved the head.
    paths = write_receipts(export_store, "req-twice", 2)
    second: list[Any] = []
    hooked.before_swap = lambda: second.extend(seal_receipts(hooked, export_store, endpoint, paths))
    first = seal_receipts(hooked, export_store, endpoint, paths)
    report = verify_chain(hooked, endpoint)
    assert report.ok, report.to_json()
    assert report.length == 2
    assert first == second
    assert _sequences(hooked, paths) == [1, 2]
    assert [hashlib.sha256(hooked.get_bytes(p)).hexdigest() for p in paths] == [r.sha256 for r in first]


def test_a_sealer_that_read_the_head_before_another_sealed_the_same_receipts_links_nothing_again(
    export_store, hooked, endpoint
):
    seal_receipts(hooked, export_store, endpoint, write_receipts(export_store, "req-before", 1))
    paths = write_receipts(export_store, "req-late", 2)
    second: list[Any] = []
    # The other sealer runs start to end after this one read the head, before it writes a copy.
    hooked.before_write = lambda: second.extend(seal_receipts(hooked, export_store, endpoint, paths))
    first = seal_receipts(hooked, export_store, endpoint, paths)
    report = verify_chain(hooked, endpoint)
    assert report.ok, report.to_json()
    assert report.length == 3
    assert first == second
    assert _sequences(hooked, paths) == [2, 3]


def test_concurrent_sealers_of_the_same_receipts_leave_one_link_each(export_store, records, endpoint):
    same = write_receipts(export_store, "req-same", 3)
    others = [write_receipts(export_store, f"req-other-{n}", 2) for n in range(2)]
    jobs = [same] * 4 + others
    start = threading.Barrier(len(jobs))
    results: list[tuple[list[str], list[Any]]] = []
    errors: list[BaseException] = []

    def seal(paths: list[str]) -> None:
        try:
            start.wait()
            results.append((paths, seal_receipts(records, export_store, endpoint, paths)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=seal, args=(paths,)) for paths in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    report = verify_chain(records, endpoint)
    assert report.ok, report.to_json()
    assert report.length == report.verified == 3 + 2 * 2
    assert sorted(_sequences(records, same + others[0] + others[1])) == list(range(1, 8))
    sealed_same = [refs for paths, refs in results if paths is same]
    assert len(sealed_same) == 4
    assert all(refs == sealed_same[0] for refs in sealed_same)
    for ref in sealed_same[0]:
        assert hashlib.sha256(records.get_bytes(ref.path)).hexdigest() == ref.sha256


def test_concurrent_sealers_of_overlapping_receipts_in_different_orders_form_one_chain(
    export_store, records, endpoint
):
    # A cancel's document and write_status's may list a request's receipts differently.
    paths = write_receipts(export_store, "req-overlap", 4)
    jobs = [paths, paths[::-1], paths[1:3], [paths[3], paths[0]], paths[2:], [paths[1]]]
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def seal(subset: list[str]) -> None:
        try:
            start.wait()
            seal_receipts(records, export_store, endpoint, subset)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=seal, args=(subset,)) for subset in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    report = verify_chain(records, endpoint)
    assert report.ok, report.to_json()
    assert report.length == 4
    assert sorted(_sequences(records, paths)) == [1, 2, 3, 4]


def _crash(*_: Any) -> None:
    raise HostKilled


def test_copies_of_a_sealer_that_died_before_the_head_swap_are_linked_by_the_next(
    export_store, hooked, endpoint
):
    paths = write_receipts(export_store, "req-died", 2)
    hooked.before_swap = _crash
    with pytest.raises(HostKilled):
        seal_receipts(hooked, export_store, endpoint, paths)
    left = [hooked.read(p) for p in paths]
    assert all(left)
    assert hooked.read(head_path(endpoint)) is None
    again = seal_receipts(hooked, export_store, endpoint, paths)  # the retried activity
    report = verify_chain(hooked, endpoint)
    assert report.ok, report.to_json()
    assert report.length == 2
    assert [r.sha256 for r in again] == [hashlib.sha256(v.data).hexdigest() for v in left if v]


def test_copies_of_a_sealer_that_died_are_replaced_once_the_chain_moved_past_them(
    export_store, hooked, endpoint
):
    paths = write_receipts(export_store, "req-died-early", 2)
    hooked.before_swap = _crash
    with pytest.raises(HostKilled):
        seal_receipts(hooked, export_store, endpoint, paths)
    seal_receipts(hooked, export_store, endpoint, write_receipts(export_store, "req-meanwhile", 3))
    again = seal_receipts(hooked, export_store, endpoint, paths)
    report = verify_chain(hooked, endpoint)
    assert report.ok, report.to_json()
    assert report.length == 5
    assert _sequences(hooked, paths) == [4, 5]
    assert [hashlib.sha256(hooked.get_bytes(p)).hexdigest() for p in paths] == [r.sha256 for r in again]


def test_a_sealer_of_fewer_receipts_links_the_copies_of_one_that_died_sealing_more(
    export_store, hooked, endpoint
):
    paths = write_receipts(export_store, "req-more", 3)
    hooked.before_swap = _crash
    with pytest.raises(HostKilled):
        seal_receipts(hooked, export_store, endpoint, paths)
    seal_receipts(hooked, export_store, endpoint, [paths[2]])
    seal_receipts(hooked, export_store, endpoint, paths)
    report = verify_chain(hooked, endpoint)
    assert report.ok, report.to_json()
    assert report.length == 3
    assert sorted(_sequences(hooked, paths)) == [1, 2, 3]
