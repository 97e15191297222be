"""Timer ``retention`` (schedule: app setting ``DSR_RETENTION_SCHEDULE``, NCRONTAB): expire working
copies of personal data (``dsr/retention.py``) and purge the Durable history of finished requests."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from dsr.config import RETENTION_SCHEDULE_SETTING
from dsr.retention import ExportContainer, purge_expired
from dsr.runtime import get_runtime
from triggers.history import purge_finished_histories

bp = df.Blueprint()
log = logging.getLogger("dsr.retention")


@bp.timer_trigger(arg_name="timer", schedule=f"%{RETENTION_SCHEDULE_SETTING}%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def retention(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Delete what outlived its retention period, then purge finished requests' Durable history."""
    runtime = get_runtime()
    settings = runtime.settings
    now = datetime.now(UTC)
    exports = ExportContainer.from_connection(settings.storage_connection, settings.export_container)
    # Blob calls are synchronous: keep them off the event loop the HTTP triggers share.
    report = await asyncio.to_thread(purge_expired, exports, runtime.records, settings, now)
    cutoff = now - timedelta(hours=settings.history_purge_after_hours)
    purged = await purge_finished_histories(client, runtime.store, runtime.records, cutoff)
    log.info(
        "retention: %d export file(s), %d rejected item(s) deleted; %d request(s) expired; "
        "%d Durable instance(s) purged",
        report.files_deleted,
        report.rejected_deleted,
        len(report.requests_expired),
        purged,
    )
