"""Purging the Durable history of finished requests: the status document is the record.

A request's orchestration history (inputs, outputs, custom status) stays in the task hub until purged.
Once a request has ended, and ``DSR_HISTORY_PURGE_AFTER_HOURS`` have passed, nothing needs it: GET
answers from ``status.json`` in the records container. Before a request's own instance is purged its
status document must exist there; one that ended without writing it (terminated, or failed outside
the activities) gets the document GET would have answered, so GET still answers the same afterwards.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import azure.durable_functions as df

from dsr import layout
from dsr.contract import INSTANCE_ID_PREFIX
from dsr.record_store import RecordStore
from dsr.storage import ExportStore, put_json
from triggers.settlement import read_settled_status
from triggers.status_view import read_status

FINISHED = [
    df.OrchestrationRuntimeStatus.Completed,
    df.OrchestrationRuntimeStatus.Failed,
    df.OrchestrationRuntimeStatus.Terminated,
]
MAX_LIST_ROUNDS = 100
"""Pages one purge run reads at most (10,000 instances at Azure's 100 a page); the next run goes on."""
SUB_ORCHESTRATION_SEPARATOR = ":"
"""Sub-orchestration ids are ``<parent id>:<unit>`` (orchestrators/dsr_request.py)."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def purge_finished_histories(
    client: df.DurableOrchestrationClient, store: ExportStore, records: RecordStore, cutoff: datetime
) -> int:
    """Purge every request instance (and sub-orchestration) that ended before ``cutoff``; the count.

    The Durable HTTP API answers a list in pages (100 by default) and the Python client reads only
    the first, so the list is asked for again while a page had something to purge: what was purged
    leaves room for the next. Instances kept on a full page (ended after the cutoff) can still hide
    the rest until they are purged themselves, a run or a day later.
    """
    purged = 0
    for _ in range(MAX_LIST_ROUNDS):
        purged_now = await _purge_page(client, store, records, cutoff)
        if not purged_now:
            break
        purged += purged_now
    return purged


async def _purge_page(
    client: df.DurableOrchestrationClient, store: ExportStore, records: RecordStore, cutoff: datetime
) -> int:
    statuses = await client.get_status_by(created_time_to=cutoff, runtime_status=FINISHED)
    purged = 0
    for status in statuses:
        instance_id = str(status.instance_id or "")
        if not instance_id.startswith(INSTANCE_ID_PREFIX):
            continue  # not a data-subject request
        ended = status.last_updated_time
        if ended is None or _aware(ended) > cutoff:
            continue
        if SUB_ORCHESTRATION_SEPARATOR not in instance_id:
            request_id = instance_id.removeprefix(INSTANCE_ID_PREFIX)
            # Blob calls are synchronous: keep them off the event loop the HTTP triggers share.
            if status.runtime_status == df.OrchestrationRuntimeStatus.Terminated:
                # A canceled one is kept with its receipts even where an earlier attempt left a
                # document (settling writes it, once).
                await read_settled_status(client, request_id, store, records)
            elif not await asyncio.to_thread(records.exists, layout.status(request_id)):
                view = await read_status(client, request_id, records)
                await asyncio.to_thread(put_json, records, layout.status(request_id), view.document)
        await client.purge_instance_history(instance_id)
        purged += 1
    return purged
