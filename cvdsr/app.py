"""The ``cvdsr`` commands. Each is thin: parse options, call the API client, print with rich.

Connection: ``--url`` / ``CVDSR_URL`` (the app's origin; locally ``DEVSTACK_FUNCTIONS_URL`` from
``python -m devstack env``) and ``--key`` / ``CVDSR_KEY`` (a function key; locally
``DEVHOST_FUNCTION_KEY``). ``download`` also needs ``--storage`` / ``CVDSR_STORAGE``.

Exit codes: 0 done (and, for commands that wait, the request succeeded), 1 error, 3 a watched request
ended without succeeding.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cvdsr.bodies import Options, bodies_from_csv, body_from_file, build_body
from cvdsr.client import CliError, DsrClient
from cvdsr.download import container_client, download
from cvdsr.progress import DEFAULT_POLL_SECONDS, DEFAULT_TIMEOUT_SECONDS, watch
from cvdsr.summary import print_requests, print_summary
from dsr.categories import ALL_CATEGORIES
from dsr.config import DEFAULT_EXPORT_CONTAINER, DEFAULT_RECORDS_CONTAINER

DEFAULT_URL = "http://127.0.0.1:7071"
EXIT_ERROR = 1
EXIT_NOT_SUCCEEDED = 3
CATEGORIES: tuple[str, ...] = tuple(ALL_CATEGORIES)

app = typer.Typer(
    name="cvdsr",
    help="Operate GDPR data-subject requests (export, delete) for Azure Custom Vision.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)


@dataclass
class Context:
    """Connection settings shared by every command."""

    url: str
    key: str | None
    storage: str | None
    container: str
    records_storage: str | None
    records_container: str

    def client(self) -> DsrClient:
        return DsrClient(self.url, self.key)


STORAGE_HELP = "download: the export storage (connection string, or https:// blob URL with Entra ID)."
RECORDS_STORAGE_HELP = "download: the records account (status documents, sealed receipts); default --storage."


def _from_env(help_text: str, *envvars: str) -> Any:
    """A connection option that may also come from the first set of ``envvars`` (cvdsr's own first,
    then the local stack's)."""
    return typer.Option(envvar=list(envvars), help=help_text)


@app.callback()
def connect(
    ctx: typer.Context,
    url: Annotated[str, _from_env("The app's URL.", "CVDSR_URL", "DEVSTACK_FUNCTIONS_URL")] = DEFAULT_URL,
    key: Annotated[
        str | None, _from_env("Function key (sent as x-functions-key).", "CVDSR_KEY", "DEVHOST_FUNCTION_KEY")
    ] = None,
    storage: Annotated[str | None, _from_env(STORAGE_HELP, "CVDSR_STORAGE", "DSR_STORAGE_CONNECTION")] = None,
    container: Annotated[
        str, _from_env("Export container.", "CVDSR_CONTAINER", "DSR_EXPORT_CONTAINER")
    ] = DEFAULT_EXPORT_CONTAINER,
    records_storage: Annotated[
        str | None, _from_env(RECORDS_STORAGE_HELP, "CVDSR_RECORDS_STORAGE", "DSR_RECORDS_CONNECTION")
    ] = None,
    records_container: Annotated[
        str, _from_env("Records container.", "CVDSR_RECORDS_CONTAINER", "DSR_RECORDS_CONTAINER")
    ] = DEFAULT_RECORDS_CONTAINER,
) -> None:
    """Connection options (flags or environment)."""
    ctx.obj = Context(url, key, storage, container, records_storage, records_container)


def _context(ctx: typer.Context) -> Context:
    context: Context = ctx.obj
    return context


def _fail(exc: CliError) -> typer.Exit:
    errors.print(f"[red]error:[/red] {exc}")
    return typer.Exit(EXIT_ERROR)


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value))


def _watch_and_summarize(context: Context, request_ids: list[str], poll: float, timeout: float) -> int:
    documents = watch(context.client(), request_ids, console, poll_seconds=poll, timeout=timeout)
    for request_id in request_ids:
        print_summary(documents[request_id], console, context.container, context.records_container)
    ok = all(d["state"] == "succeeded" for d in documents.values())
    return 0 if ok else EXIT_NOT_SUCCEEDED


WatchOption = Annotated[bool, typer.Option("--watch", help="Then watch it until it ends.")]
PollOption = Annotated[float, typer.Option(help="Seconds between polls.")]
TimeoutOption = Annotated[float, typer.Option(help="Give up watching after this many seconds.")]


@app.command()
def submit(
    ctx: typer.Context,
    operation: Annotated[str, typer.Argument(help="export or delete")],
    endpoint: Annotated[str | None, typer.Option(help="Custom Vision endpoint of the account.")] = None,
    secret: Annotated[
        str | None, typer.Option(help="Key Vault secret name holding the account's training key.")
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="The local demo account (DEVSTACK_CV_ENDPOINT, DEVSTACK_DEMO_SECRET_NAME).")
    ] = False,
    file: Annotated[Path | None, typer.Option(help="A complete request body as JSON.")] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="Bulk: one request per row (endpoint,trainingKeySecret[,requestId,projectIds])."
        ),
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", "-c", help="Repeat for several.")
    ] = None,
    project: Annotated[
        list[str] | None, typer.Option("--project", "-p", help="Project id; repeatable.")
    ] = None,
    subject: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE image metadata of one data subject; repeatable.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Delete only: count, delete nothing.")] = False,
    zip_export: Annotated[
        bool, typer.Option("--zip", help="Export only: also deliver one zip, with a time-limited link.")
    ] = False,
    request_id: Annotated[str | None, typer.Option(help="Your id (default: generated).")] = None,
    callback_url: Annotated[str | None, typer.Option(help="Told when the request ends.")] = None,
    wait: WatchOption = False,
    poll: PollOption = DEFAULT_POLL_SECONDS,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Submit a request (flags, --file, or --csv for many accounts); prints the request id(s)."""
    context = _context(ctx)
    try:
        if operation not in ("export", "delete"):
            raise CliError("OPERATION must be export or delete")
        unknown = [c for c in category or [] if c not in CATEGORIES]
        if unknown:
            raise CliError(f"unknown category {unknown[0]!r}; known: {', '.join(CATEGORIES)}")
        options = Options(
            operation,
            category or [],
            project or [],
            subject or [],
            dry_run,
            request_id,
            callback_url,
            zip=zip_export,
        )
        sources = sum(1 for given in (endpoint or secret, demo, file, csv_file) if given)
        if sources != 1:
            raise CliError("give the account one way: --endpoint and --secret, --demo, --file or --csv")
        if file is not None:
            bodies = [body_from_file(file, options)]
        elif csv_file is not None:
            bodies = bodies_from_csv(csv_file, options)
        else:
            if demo:
                endpoint = os.environ.get("DEVSTACK_CV_ENDPOINT")
                secret = os.environ.get("DEVSTACK_DEMO_SECRET_NAME")
                if not endpoint or not secret:
                    raise CliError(
                        '--demo needs the local configuration: eval "$(.venv/bin/python -m devstack env)"'
                    )
            if not endpoint or not secret:
                raise CliError("--endpoint and --secret go together")
            bodies = [build_body(options, endpoint, secret)]
        client = context.client()
        ids = []
        for body in bodies:
            accepted = client.submit(body)
            ids.append(accepted["requestId"])
            how = "submitted" if accepted.get("created", True) else "already known (resubmission)"
            console.print(f"{accepted['requestId']}: {operation} {how}")
        if wait:
            raise typer.Exit(_watch_and_summarize(context, ids, poll, timeout))
    except CliError as exc:
        raise _fail(exc) from None


@app.command("watch")
def watch_command(
    ctx: typer.Context,
    request_ids: Annotated[list[str], typer.Argument(help="One or more request ids.")],
    poll: PollOption = DEFAULT_POLL_SECONDS,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Follow requests until they end (a bar per category), then summarize each."""
    try:
        raise typer.Exit(_watch_and_summarize(_context(ctx), request_ids, poll, timeout))
    except CliError as exc:
        raise _fail(exc) from None


@app.command()
def status(
    ctx: typer.Context,
    request_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="The whole status document.")] = False,
) -> None:
    """Show where a request stands."""
    context = _context(ctx)
    try:
        answer = context.client().status(request_id)
    except CliError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(answer.body)
    else:
        print_summary(answer.body, console, context.container, context.records_container)


ByOption = Annotated[str, typer.Option(help="Who decides (recorded in the status document).")]
CommentOption = Annotated[str | None, typer.Option(help="Recorded with the decision.")]


def _decide(ctx: typer.Context, request_id: str, by: str, decision: str, comment: str | None) -> None:
    try:
        _context(ctx).client().approve(request_id, by, decision, comment)
    except CliError as exc:
        raise _fail(exc) from None
    console.print(f"{request_id}: {decision} delivered")


@app.command()
def approve(ctx: typer.Context, request_id: str, by: ByOption, comment: CommentOption = None) -> None:
    """Approve a delete that waits for approval."""
    _decide(ctx, request_id, by, "approve", comment)


@app.command()
def reject(ctx: typer.Context, request_id: str, by: ByOption, comment: CommentOption = None) -> None:
    """Reject a delete that waits for approval (nothing is deleted)."""
    _decide(ctx, request_id, by, "reject", comment)


@app.command()
def cancel(
    ctx: typer.Context,
    request_id: str,
    by: Annotated[str | None, typer.Option(help="Who cancels.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Cancel a running request; what was already deleted stays in the receipts."""
    context = _context(ctx)
    try:
        document = context.client().cancel(request_id, by, reason)
    except CliError as exc:
        raise _fail(exc) from None
    print_summary(document, console, context.container, context.records_container)


@app.command()
def retry(
    ctx: typer.Context,
    request_id: str,
    wait: WatchOption = False,
    poll: PollOption = DEFAULT_POLL_SECONDS,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Run the failed or unverified categories of a finished request again (same request id)."""
    context = _context(ctx)
    try:
        started = context.client().retry(request_id)
        console.print(f"{request_id}: attempt {started['attempt']} runs {', '.join(started['categories'])}")
        if wait:
            raise typer.Exit(_watch_and_summarize(context, [request_id], poll, timeout))
    except CliError as exc:
        raise _fail(exc) from None


@app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="Only requests in this state.")] = None,
    operation: Annotated[str | None, typer.Option(help="export or delete.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List requests (by request id), following the pages."""
    rows: list[dict[str, Any]] = []
    try:
        for row in _context(ctx).client().requests(state, operation, page_size=min(limit, 100)):
            rows.append(row)
            if len(rows) >= limit:
                break
    except CliError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(rows)
    else:
        print_requests(rows, console)


@app.command("download")
def download_command(
    ctx: typer.Context,
    request_id: str,
    to: Annotated[Path, typer.Option(help="Folder to copy into (a subfolder per request).")] = Path(
        "dsr-downloads"
    ),
) -> None:
    """Copy a request's export, receipts and status document to a local folder."""
    context = _context(ctx)
    try:
        if not context.storage:
            raise CliError("download reads the export container: give --storage or set CVDSR_STORAGE")
        records = container_client(context.records_storage or context.storage, context.records_container)
        exports = container_client(context.storage, context.container)
        # Records last: its sealed receipts replace the working copies the export container holds.
        copied = download([exports, records], request_id, to / request_id)
    except CliError as exc:
        raise _fail(exc) from None
    console.print(
        f"{copied.files} file(s), {copied.bytes} bytes copied to {copied.folder} "
        f"({copied.verified} checked against their sha256)"
    )
    index = copied.folder / "export" / "index.html"
    if index.exists():
        console.print(f"open {index} in a browser to browse the export")


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The Custom Vision endpoint whose receipt chain to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check an account's hash chain of delete receipts in the records container; exit 1 at a break."""
    context = _context(ctx)
    storage = context.records_storage or context.storage
    if not storage:
        raise _fail(CliError("verify reads the records container: give --records-storage or --storage"))
    # Imported here, like download's SDKs: most commands never need them.
    from dsr.chain import verify_chain
    from dsr.record_store import RecordStore

    report = verify_chain(RecordStore(container_client(storage, context.records_container)), endpoint)
    if as_json:
        _print_json(report.to_json())
    elif report.first_break is None:
        console.print(
            f"chain {report.chain}: intact, {report.verified} of {report.length} receipt(s) checked"
        )
    else:
        broken = report.first_break
        console.print(f"chain broken at receipt {broken.sequence} ({broken.path}): {broken.reason}")
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()
