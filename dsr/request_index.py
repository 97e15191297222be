"""The request list, kept on the request records (see :mod:`dsr.records` and :mod:`dsr.layout`).

A finished request's record carries its outcome as blob metadata (``state``, ``operation``,
``receivedat``), so a page of the list is one blob listing. A record without a finished state belongs
to a request still in progress (or one from before records had metadata), whose state is read live.
Records are listed in request-id order, the order Blob Storage lists names in.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsr import layout
from dsr.status import TERMINAL_STATES
from dsr.storage import ExportStore, StoredFileNotFoundError

STATE_KEY = "state"
OPERATION_KEY = "operation"
RECEIVED_KEY = "receivedat"  # blob metadata names are case-insensitive identifiers
IN_PROGRESS = "running"
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class IndexEntry:
    """One record as listed: the id and, for a finished request, its outcome."""

    request_id: str
    operation: str | None
    state: str | None
    received_at: str | None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES


def mark(store: ExportStore, request_id: str, operation: str, state: str, received_at: str) -> None:
    """Record a request's state on its record (``running`` again when a retry starts).

    Requests submitted before records existed have none; there is nothing to mark then.
    """
    values = {STATE_KEY: state, OPERATION_KEY: operation, RECEIVED_KEY: received_at}
    try:
        store.update_metadata(layout.record(request_id), values)
    except StoredFileNotFoundError:
        return


def index_page(store: ExportStore, page_size: int, token: str | None) -> tuple[list[IndexEntry], str | None]:
    """One page of records and the token of the next (None on the last page)."""
    items, following = store.list_page(layout.RECORDS_PREFIX, page_size, token)
    entries = []
    for path, metadata in items:
        request_id = layout.request_of_record(path)
        if request_id is None:
            continue
        entries.append(
            IndexEntry(
                request_id=request_id,
                operation=metadata.get(OPERATION_KEY),
                state=metadata.get(STATE_KEY),
                received_at=metadata.get(RECEIVED_KEY),
            )
        )
    return entries, following
