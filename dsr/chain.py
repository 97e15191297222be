"""Receipts as a hash chain per Custom Vision account, so an altered or removed receipt shows.

When a delete request finishes, its receipts (written by ``dsr/erasure.py`` to the export container)
are copied to the records container, each with a ``chain`` block: the account's chain id, a sequence
number, and the path and sha256 of the account's previous receipt. The chain head
(``chains/<id>/head.json``) names the latest receipt and its sha256. Appending is compare-and-swap on
the head's ETag, so two requests finishing at once for one account cannot both link to the same
predecessor: the loser re-reads the head and links its receipts after the winner's.

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
from dsr.record_store import RecordConflictError, RecordStore
from dsr.status import with_sealed_receipts
from dsr.storage import JSON_CONTENT_TYPE, ExportStore, FileRef, get_json, put_json
from dsr.times import precise_now
from dsr.wire import StatusDocument

HEAD_ATTEMPTS = 20
"""Compare-and-swap attempts on the chain head before giving up (the activity is then retried)."""
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


@dataclass(frozen=True)
class _Link:
    path: str
    sha256: str


def _chain_block(document: Any) -> dict[str, Any] | None:
    block = document.get("chain") if isinstance(document, dict) else None
    return block if isinstance(block, dict) else None


def _linked(records: RecordStore, endpoint: str, paths: list[str]) -> dict[str, FileRef]:
    """Those of ``paths`` already in the chain (an earlier attempt of this request got them in)."""
    candidates: dict[str, tuple[int, FileRef]] = {}
    for path in paths:
        stored = records.read(path)
        if stored is None:
            continue
        block = _chain_block(json.loads(stored.data))
        if block and block.get("id") == chain_id(endpoint):
            ref = FileRef(path, len(stored.data), _sha256(stored.data), JSON_CONTENT_TYPE)
            candidates[path] = (int(block["sequence"]), ref)
    head = records.read(head_path(endpoint))
    if not candidates or head is None:
        return {}
    # Walk back from the head only as far as the oldest candidate: a retry comes soon after.
    oldest = min(sequence for sequence, _ in candidates.values())
    state = json.loads(head.data)
    link = state.get("last")
    sequence = int(state.get("sequence", 0))
    in_chain: dict[str, str] = {}
    while link and sequence >= oldest:
        in_chain[link["path"]] = link["sha256"]
        stored = records.read(link["path"])
        block = _chain_block(json.loads(stored.data)) if stored else None
        if block is None:
            break
        link, sequence = block.get("previous"), sequence - 1
    return {path: ref for path, (_, ref) in candidates.items() if in_chain.get(path) == ref.sha256}


def seal_receipts(
    records: RecordStore, source: ExportStore, endpoint: str, paths: Iterable[str]
) -> list[FileRef]:
    """Copy receipts from ``source`` into the records container, appended to the account's chain.

    Idempotent: receipts an earlier attempt already linked are left alone. Returns the sealed files,
    in the order of ``paths``. Raises :class:`ChainBusyError` if the head never stops changing.
    """
    ordered = list(dict.fromkeys(paths))
    done = _linked(records, endpoint, ordered)
    pending = [path for path in ordered if path not in done]
    if pending:
        done.update(_append(records, endpoint, pending, lambda path: get_json(source, path)))
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
    records: RecordStore, endpoint: str, pending: list[str], receipt: Callable[[str], Any]
) -> dict[str, FileRef]:
    """Append ``pending`` to the chain. Each receipt is read (``receipt(path)``) as it is written, so
    one is in memory at a time: a 100k-image delete has four of 25k ids each, at the request's end."""
    identity = chain_id(endpoint)
    for attempt in range(HEAD_ATTEMPTS):
        head = records.read(head_path(endpoint))
        state = json.loads(head.data) if head else {}
        sequence = int(state.get("sequence", 0))
        previous = state.get("last")
        written: dict[str, FileRef] = {}
        for path in pending:
            sequence += 1
            chain = {"id": identity, "sequence": sequence, "previous": previous}
            ref = put_json(records, path, {**receipt(path), "chain": chain})
            written[path] = ref
            previous = {"path": path, "sha256": ref.sha256}
        new_head = {
            "chain": identity,
            "endpoint": endpoint,
            "sequence": sequence,
            "last": previous,
            "updatedAt": _now(),
        }
        try:
            records.replace(
                head_path(endpoint), json.dumps(new_head, indent=2).encode(), head.etag if head else None
            )
        except RecordConflictError:
            # Another request of this account appended first: link after it on the next attempt.
            time.sleep(random.uniform(0, _BACKOFF_SECONDS * (attempt + 1)))
            continue
        return written
    raise ChainBusyError(f"the receipt chain of {identity} kept changing; try again")


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
