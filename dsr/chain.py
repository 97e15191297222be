"""Receipts as a hash chain per Custom Vision account, so an altered or removed receipt shows.

When a delete request finishes, its receipts (written by ``dsr/erasure.py`` to the export container)
are copied to the records container, each with a ``chain`` block: the account's chain id, a sequence
number, and the path and sha256 of the account's previous receipt. The chain head
(``chains/<id>/head.json``) names the latest receipt and its sha256. Appending is compare-and-swap on
the head's ETag, so two requests finishing at once for one account cannot both link to the same
predecessor: the loser re-reads the head and links its receipts after the winner's. The copies are
written before that swap, each only if still as read (absent, or by its ETag), and a copy the head
could link is never written again, so sealers of the *same* receipts at once (a cancel sent twice, a
cancel and the request's ``write_status``), or after one died between its copies and its swap, still
leave one link per receipt (:class:`_View`).

:func:`verify_chain` walks from the head back to the first receipt and reports where a stored receipt
no longer hashes to what its successor (or the head) recorded. A hash chain alone cannot catch
someone who rewrites a receipt *and* everything after it; the version-level WORM policy on the records
container is what prevents that in Azure (earlier versions stay, unmodifiable).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from dsr import layout
from dsr.errors import TransientError
from dsr.record_store import RecordConflictError, RecordStore, Versioned
from dsr.status import with_sealed_receipts
from dsr.storage import JSON_CONTENT_TYPE, ExportStore, FileRef, StoredFileExistsError, get_json
from dsr.times import precise_now
from dsr.wire import StatusDocument

HEAD_ATTEMPTS = 20
"""Races lost (the chain head's compare-and-swap, or a sealed copy's conditional write) before giving
up (the activity is then retried)."""
_BACKOFF_SECONDS = 0.05


class ChainBusyError(TransientError):
    """The chain head kept changing under this writer; retrying later will succeed."""


def chain_id(endpoint: str) -> str:
    """A stable, path-safe id for one Custom Vision account's chain (its endpoint, normalized)."""
    return hashlib.sha256(endpoint.strip().rstrip("/").lower().encode()).hexdigest()[:32]


def head_path(endpoint: str) -> str:
    return layout.chain_head(chain_id(endpoint))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now() -> str:
    return precise_now()


_ENCODER = json.JSONEncoder(indent=2, ensure_ascii=False)
"""How a sealed copy is encoded: as :func:`dsr.storage.put_json` encodes a document."""


def _encoded(document: Any) -> bytes:
    """``document`` in one piece, for a conditional write. Built fragment by fragment: ``json.dumps``
    would hold every fragment at once, five times the document's size (a receipt of 25k ids: 2.3 MB)."""
    buffer = bytearray()
    for fragment in _ENCODER.iterencode(document):
        buffer += fragment.encode()
    return bytes(buffer)


@dataclass(frozen=True)
class _Link:
    path: str
    sha256: str

    @classmethod
    def of(cls, value: Any) -> _Link | None:
        if isinstance(value, dict) and isinstance(value.get("path"), str):
            return cls(value["path"], str(value.get("sha256", "")))
        return None

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


def _chain_block(document: Any) -> dict[str, Any] | None:
    block = document.get("chain") if isinstance(document, dict) else None
    return block if isinstance(block, dict) else None


@dataclass(frozen=True)
class _Copy:
    """What the records container holds at a receipt's path: where it says it sits in the chain, and
    its ETag for a conditional write; not its content."""

    ref: FileRef
    etag: str
    sequence: int | None
    """Its position in this account's chain; None when it carries none (or another chain's)."""
    previous: _Link | None


class _View:
    """The chain as one sealer sees it in one attempt: the head as read, then the copies at receipt
    paths as read after it (each read once, one receipt's content in memory at a time).

    Every copy is written before the head swap that would link it, and the head only moves forward,
    so a copy is in one of three states relative to the head read:

    - *linked*: the chain as the head has it holds it. It is never written again.
    - *proposed*: it extends the head; following its ``previous`` links down through copies that still
      hash to them reaches the head's last receipt. A sealer (running, or dead) wrote it and a swap on
      this head could link it, so it is not written again; it can be linked as it is.
    - *stale*: neither. No swap on this head or a later one can link it, so it may be rewritten (with
      the ETag read: one of several writers wins).
    """

    def __init__(self, records: RecordStore, identity: str, head: Versioned | None) -> None:
        self._records = records
        self._identity = identity
        state = json.loads(head.data) if head else {}
        self.etag = head.etag if head else None
        self.sequence = int(state.get("sequence", 0))
        self.last = _Link.of(state.get("last"))
        self._copies: dict[str, _Copy | None] = {}
        self._walked: dict[int, _Link] = {}
        self._next: tuple[int, _Link | None] = (self.sequence, self.last)

    def copy(self, path: str) -> _Copy | None:
        if path not in self._copies:
            self._copies[path] = self._read(path)
        return self._copies[path]

    def _read(self, path: str) -> _Copy | None:
        stored = self._records.read(path)
        if stored is None:
            return None
        ref = FileRef(path, len(stored.data), _sha256(stored.data), JSON_CONTENT_TYPE)
        block = _chain_block(json.loads(stored.data))
        sequence = block.get("sequence") if block and block.get("id") == self._identity else None
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
            return _Copy(ref, stored.etag, None, None)
        return _Copy(ref, stored.etag, sequence, _Link.of(block.get("previous") if block else None))

    def linked_at(self, sequence: int) -> _Link | None:
        """The receipt the chain holds at ``sequence`` (at most the head's), walking back from the head
        only as far as needed: a retry comes soon after, so its receipts are near the head."""
        while sequence not in self._walked:
            at, link = self._next
            if link is None or at < sequence:
                return None
            self._walked[at] = link
            stored = self.copy(link.path)
            self._next = (at - 1, stored.previous if stored and stored.sequence == at else None)
        return self._walked[sequence]

    def state(self, path: str) -> tuple[str, list[FileRef]]:
        """("linked", [its ref]), ("proposed", the copies from the head's successor up to it), or
        ("stale", []) / ("absent", [])."""
        copy = self.copy(path)
        if copy is None:
            return "absent", []
        if copy.sequence is None:
            return "stale", []
        if copy.sequence <= self.sequence:
            linked = self.linked_at(copy.sequence) == _Link(path, copy.ref.sha256)
            return ("linked", [copy.ref]) if linked else ("stale", [])
        proposal = [copy.ref]
        current = copy
        while current.sequence is not None and current.sequence > self.sequence + 1:
            previous = current.previous
            before = self.copy(previous.path) if previous else None
            if (
                previous is None
                or before is None
                or before.ref.sha256 != previous.sha256
                or before.sequence != current.sequence - 1
            ):
                return "stale", []
            proposal.append(before.ref)
            current = before
        if current.previous != self.last:
            return "stale", []
        return "proposed", proposal[::-1]


class _Conflict(Exception):
    """Another writer changed what this attempt read: read again."""


def seal_receipts(
    records: RecordStore, source: ExportStore, endpoint: str, paths: Iterable[str]
) -> list[FileRef]:
    """Copy receipts from ``source`` into the records container, appended to the account's chain.

    Idempotent, also when sealers of the same receipts run at once (a cancel sent twice, a cancel and
    the request's own ``write_status``) or one died part way: each receipt is linked once, and a copy
    the chain links is never written again. Returns the sealed files, in the order of ``paths``.
    Raises :class:`ChainBusyError` if the chain never stops changing.
    """
    ordered = list(dict.fromkeys(paths))
    done = _append(records, endpoint, ordered, lambda path: get_json(source, path))
    return [done[path] for path in ordered]


def seal_request_receipts(
    document: StatusDocument, records: RecordStore, source: ExportStore
) -> StatusDocument:
    """Seal the receipts a finished delete request's status document lists; the document pointing at
    the copies.

    The references keep their paths (the same layout, in the records container) and get the sealed
    copies' sizes and sha256.
    """
    if document["operation"] != "delete":
        return document
    receipts = [r for entry in document["categories"].values() if (r := entry.get("receipt"))]
    paths = [file["path"] for receipt in receipts for file in receipt["files"]]
    if not paths:
        return document
    endpoint = document["request"]["account"]["endpoint"]
    sealed = {ref.path: dict(ref.to_json()) for ref in seal_receipts(records, source, endpoint, paths)}
    return with_sealed_receipts(document, sealed)


def _append(
    records: RecordStore, endpoint: str, paths: list[str], receipt: Callable[[str], Any]
) -> dict[str, FileRef]:
    """Link ``paths`` into the chain (those not in it yet); their sealed copies, by path.

    Each attempt reads the head, then the copies at ``paths`` (see :class:`_View`). Linked ones are
    done. The longest run of proposed copies is taken as it is (whoever wrote it, even a sealer that
    died before swapping the head, or one sealing more of the request's receipts than this one); then
    the absent and stale ones are written after it, each only if still as read (first writer wins),
    and the head is swapped on the ETag read. Losing any of these races means reading again. A
    proposed copy on another run than the one taken is left alone: it is stale once the head has moved
    on, and written then. Each receipt is read (``receipt(path)``) as it is written, so one is in
    memory at a time: a 100k-image delete has four of 25k ids each, at the request's end.
    """
    identity = chain_id(endpoint)
    done: dict[str, FileRef] = {}
    pending = list(paths)
    lost = 0
    while pending:
        if lost >= HEAD_ATTEMPTS:
            raise ChainBusyError(f"the receipt chain of {identity} kept changing; try again")
        if lost:
            time.sleep(random.uniform(0, _BACKOFF_SECONDS * lost))
        view = _View(records, identity, records.read(head_path(endpoint)))
        states = {path: view.state(path) for path in pending}
        done.update({path: refs[0] for path, (state, refs) in states.items() if state == "linked"})
        pending = [path for path in pending if path not in done]
        if not pending:
            break
        batch = max((refs for state, refs in states.values() if state == "proposed"), key=len, default=[])
        taken = {ref.path for ref in batch}
        unwritten = [p for p in pending if states[p][0] in ("absent", "stale") and p not in taken]
        try:
            batch = batch + _write_copies(records, view, identity, batch, unwritten, receipt)
            last = batch[-1]
            new_head = {
                "chain": identity,
                "endpoint": endpoint,
                "sequence": view.sequence + len(batch),
                "last": _Link(last.path, last.sha256).to_json(),
                "updatedAt": _now(),
            }
            records.replace(head_path(endpoint), json.dumps(new_head, indent=2).encode(), view.etag)
        except (_Conflict, RecordConflictError):
            # Another sealer wrote a copy or moved the head first: see what it did, then go on.
            lost += 1
            continue
        done.update({ref.path: ref for ref in batch})
        pending = [path for path in pending if path not in done]
    return done


def _write_copies(
    records: RecordStore,
    view: _View,
    identity: str,
    after: list[FileRef],
    paths: list[str],
    receipt: Callable[[str], Any],
) -> list[FileRef]:
    """Write the sealed copies of ``paths``, linked after the head and then ``after``; each only if it
    is still as ``view`` read it (absent, or the stale copy with its ETag)."""
    sequence = view.sequence + len(after)
    previous = _Link(after[-1].path, after[-1].sha256) if after else view.last
    written: list[FileRef] = []
    for path in paths:
        sequence += 1
        chain = {"id": identity, "sequence": sequence, "previous": previous.to_json() if previous else None}
        data = _encoded({**receipt(path), "chain": chain})
        stale = view.copy(path)
        try:
            if stale is None:
                ref = records.create_bytes(path, data, JSON_CONTENT_TYPE)
            else:
                ref = records.put_bytes_if_match(path, data, JSON_CONTENT_TYPE, stale.etag)
        except StoredFileExistsError as exc:
            raise _Conflict(path) from exc
        del data
        written.append(ref)
        previous = _Link(path, ref.sha256)
    return written


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain stops holding: the receipt at ``sequence`` is not what its successor recorded."""

    sequence: int
    path: str
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify_chain`."""

    chain: str
    length: int
    """Receipts the head says the chain holds."""
    verified: int
    """Receipts whose content still hashes to the recorded sha256."""
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> ChainBreak | None:
        """The earliest break in chain order, or None when the chain is intact."""
        return min(self.breaks, key=lambda b: b.sequence) if self.breaks else None

    def to_json(self) -> dict[str, Any]:
        first = self.first_break
        return {
            "chain": self.chain,
            "ok": self.ok,
            "length": self.length,
            "verified": self.verified,
            "firstBreak": asdict(first) if first else None,
            "breaks": [asdict(b) for b in sorted(self.breaks, key=lambda b: b.sequence)],
        }


def verify_chain(records: RecordStore, endpoint: str) -> ChainReport:
    """Check every receipt of one account, from the chain head back to the first receipt."""
    identity = chain_id(endpoint)
    head = records.read(head_path(endpoint))
    if head is None:
        return ChainReport(identity, 0, 0)
    state = json.loads(head.data)
    length = int(state.get("sequence", 0))
    breaks: list[ChainBreak] = []
    verified = 0
    link = state.get("last")
    sequence = length
    while sequence > 0:
        if not link:
            breaks.append(ChainBreak(sequence, "", "the chain ends early: no link to this receipt"))
            break
        stored = records.read(link["path"])
        if stored is None:
            breaks.append(ChainBreak(sequence, link["path"], "receipt missing"))
            break
        if _sha256(stored.data) != link["sha256"]:
            breaks.append(
                ChainBreak(sequence, link["path"], "receipt altered: its sha256 differs from the link to it")
            )
        else:
            verified += 1
        block = _chain_block(json.loads(stored.data))
        if block is None or block.get("id") != identity or block.get("sequence") != sequence:
            breaks.append(ChainBreak(sequence, link["path"], "receipt does not carry this chain position"))
            break
        link = block.get("previous")
        sequence -= 1
    if sequence == 0 and link:
        breaks.append(ChainBreak(1, link.get("path", ""), "the first receipt links to a predecessor"))
    return ChainReport(identity, length, verified, breaks)


def main(argv: list[str] | None = None) -> int:
    """``python -m dsr.chain ENDPOINT``: print the chain report as JSON; exit 1 when it is broken."""
    from dsr.config import get_settings

    parser = argparse.ArgumentParser(prog="python -m dsr.chain", description="Verify an account's receipts")
    parser.add_argument("endpoint", help="the Custom Vision endpoint whose receipt chain to check")
    args = parser.parse_args(argv)
    settings = get_settings()
    records = RecordStore.from_connection(settings.records_connection, settings.records_container)
    report = verify_chain(records, args.endpoint)
    json.dump(report.to_json(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
