"""Run a whole request in this process: the same domain calls the orchestrators make (resolve, units
per category with their cursors, merge, the status-writing step), without Durable Functions, so a
10k-image export against the in-process emulator (no rate limit, no latency) takes seconds."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dsr import status
from dsr.accounts import resolve_account
from dsr.categories import DELETE_PHASES, Category, ordered
from dsr.chain import seal_request_receipts
from dsr.config import Settings
from dsr.contract import parse_request
from dsr.erasure import run_delete_unit
from dsr.export import run_export_unit
from dsr.records import claim, stash_payloads
from dsr.report import write_reports
from dsr.runtime import Runtime
from dsr.status import category_outcome, finish, initial_document
from dsr.storage import BlobExportStore
from dsr.units import Job, Unit, UnitResult, combine_results, make_job, phase_units, plan_units
from dsr.wire import CategoryEntry, StatusDocument
from emulator import EmulatorServer
from tests.functional.fakes import KeyOnlySecrets


def runtime_for(settings: Settings, server: EmulatorServer, key: str, container: str) -> Runtime:
    """A runtime on the local Azurite (own container) that may call ``server`` with ``key``."""
    scoped = replace(
        settings,
        export_container=container,
        records_container=f"{container}-records",
        allowed_endpoint_origins=(server.base_url,),
        rate_limit_per_second=100_000.0,
    )
    store = BlobExportStore.from_connection(settings.storage_connection, container)
    return Runtime(settings=scoped, secrets=KeyOnlySecrets(key), store=store)


def _run_units(job: Job, unit_name: str, runtime: Runtime) -> CategoryEntry:
    runner = run_export_unit if job["operation"] == "export" else run_delete_unit

    def run_to_end(unit: Unit) -> UnitResult:
        """Call a unit until its cursor runs out, as ``dsr_paged_unit`` does."""
        combined: UnitResult | None = None
        while True:
            result = runner(job, unit, runtime)
            combined = combine_results(combined, result)
            if result["next"] is None:
                return combined
            unit = {**unit, "cursor": result["next"]}

    # One project's units run beside the others', as dsr_category fans them out.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run_to_end, plan_units(unit_name, job)))
    return category_outcome(job["operation"], unit_name, results)


def run_request(runtime: Runtime, endpoint: str, **fields: Any) -> StatusDocument:
    """Submit ``fields`` (a request body without the account) and return the final status document."""
    body = {
        "requestId": f"inproc-{uuid.uuid4().hex[:8]}",
        "account": {"endpoint": endpoint, "trainingKeySecret": "in-process"},
        **fields,
    }
    received = datetime.now(UTC).replace(microsecond=0)
    request = parse_request(body)
    claim(runtime.records, request, received)  # as intake does: the record, then the payloads
    request = stash_payloads(runtime.store, request)
    document = initial_document(request, received, "running")
    resolution = resolve_account(request, runtime)
    document = status.with_projects(document, {"kind": "resolved", **resolution})
    job = make_job(request, resolution["account"], [p["id"] for p in resolution["projects"]], 1)
    requested = {Category(c) for c in request["categories"]}
    phases = [requested] if job["operation"] == "export" else [set(p) & requested for p in DELETE_PHASES]
    for phase in phases:
        serves = phase_units(job["operation"], [c.value for c in ordered(phase)], job["subject"] is not None)
        for unit_name, categories in serves.items():
            entry = _run_units(job, unit_name, runtime)
            document = status.record_category(document, unit_name, categories, entry)
    finished = finish(document, datetime.now(UTC))
    finished = seal_request_receipts(finished, runtime.records, runtime.store)  # as write_status does
    return write_reports(runtime, finished, datetime.now(UTC))
