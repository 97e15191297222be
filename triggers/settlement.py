"""Keeping the canceled document of a terminated request, with the receipts of what it deleted.

A cancel waits for the orchestration to stop (:data:`triggers.request_control.CANCEL_WAIT_SECONDS`)
and then keeps the document itself. When the instance stops only after the cancel has answered, the
first reader that finds it terminated without that document keeps it instead: a status poll, or the
history purge before it removes the instance. Until then the deletions of a unit that was paused or
cut short would be in no receipt, and a purge could drop the canceled attempt from the record.
"""

from __future__ import annotations

import asyncio

import azure.durable_functions as df

from dsr import layout
from dsr.cancellation import canceled_document
from dsr.chain import seal_request_receipts
from dsr.erasure import write_stopped_receipts
from dsr.record_store import RecordStore
from dsr.request_index import mark
from dsr.status import current_attempt, with_status_file
from dsr.storage import ExportStore, put_json
from dsr.wire import StatusDocument
from triggers.status_view import StatusView, read_status


def settle_cancel(document: StatusDocument, store: ExportStore, records: RecordStore) -> StatusDocument:
    """Write the receipts of units that will not write their own (from their journals), seal every
    receipt of the request and keep the canceled document in ``records``. Each step can run again."""
    request_id = document["requestId"]
    write_stopped_receipts(
        store,
        request_id,
        subject_scoped=document["request"]["subject"] is not None,
        attempt=current_attempt(document),
    )
    receipts = store.list_files(layout.receipts_prefix(request_id))
    canceled = canceled_document(document, document["cancellation"], receipts)
    canceled = with_status_file(seal_request_receipts(canceled, records, store), layout.status(request_id))
    # Written so the document outlives the Durable history, like a finished request's.
    put_json(records, layout.status(request_id), canceled)
    mark(records, request_id, canceled["operation"], canceled["state"], canceled["receivedAt"])
    return canceled


async def read_settled_status(
    client: df.DurableOrchestrationClient, request_id: str, store: ExportStore, records: RecordStore
) -> StatusView:
    """:func:`triggers.status_view.read_status`, having kept a canceled document not kept yet."""
    view = await read_status(client, request_id, records)
    if not view.unsettled_cancel:
        return view
    # Blob calls are synchronous: keep them off the event loop the HTTP triggers share.
    document = await asyncio.to_thread(settle_cancel, view.document, store, records)
    return StatusView(document, running=False)
