"""Short human summaries of status documents and request lists (rich tables)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from dsr import layout

STATE_STYLES = {
    "succeeded": "green",
    "partially_succeeded": "yellow",
    "failed": "red",
    "canceled": "magenta",
    "manual_action_required": "yellow",
    "not_attributable": "cyan",
    "skipped": "dim",
}


def _styled(state: str) -> str:
    style = STATE_STYLES.get(state)
    return f"[{style}]{state}[/{style}]" if style else state


def _files(entry: dict[str, Any]) -> list[dict[str, Any]]:
    receipt = entry.get("receipt") or {}
    return list(entry.get("files") or []) + list(receipt.get("files") or [])


def _remark(entry: dict[str, Any]) -> str:
    if entry["state"] == "manual_action_required":
        return "left to the customer (see below)"
    return str(entry.get("error") or entry.get("note") or "")


def where_results_are(document: dict[str, Any]) -> list[str]:
    """The blob paths an operator opens first: the export's index, or the deletion receipts."""
    request_id = document["requestId"]
    if document["operation"] == "export":
        manifest = document.get("manifest")
        return [layout.index_file(request_id)] if manifest else []
    receipts: list[str] = []
    for entry in document["categories"].values():
        receipts.extend(f["path"] for f in (entry.get("receipt") or {}).get("files", []))
    return sorted(set(receipts))


def print_summary(
    document: dict[str, Any],
    console: Console,
    container: str | None = None,
    records_container: str | None = None,
) -> None:
    """State, deadline, one line per category, what is left to do by hand, where the results are."""
    console.print(
        f"[bold]{document['requestId']}[/bold] {document['operation']}: {_styled(document['state'])}"
        f"  (received {document['receivedAt']}, due {document['dueAt']}"
        + (f", extended {document['extension']['months']} month(s)" if document.get("extension") else "")
        + ")"
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("category", "state", "counts", "files", "verified", "error / note"):
        table.add_column(column)
    for name, entry in document["categories"].items():
        counts = ", ".join(f"{k} {v}" for k, v in sorted((entry.get("counts") or {}).items()))
        verified = "" if entry.get("verified") is None else ("yes" if entry["verified"] else "NO")
        table.add_row(
            name,
            _styled(entry["state"]),
            counts,
            str(len(_files(entry)) or ""),
            verified,
            _remark(entry),
        )
    console.print(table)
    if document.get("error"):
        console.print(f"[red]error:[/red] {document['error']}")
    for attempt in document.get("attempts") or []:
        console.print(
            f"attempt {attempt['attempt']}: {attempt['state']} ({', '.join(attempt['categories'])})"
        )
    if document.get("cancellation"):
        c = document["cancellation"]
        console.print(f"canceled at {c['at']} by {c.get('by') or '-'}: {c.get('reason') or '-'}")
    actions = document.get("manualActions") or []
    if actions:
        console.print("[yellow bold]Left for the customer to do by hand:[/yellow bold]")
        for action in actions:
            console.print(f"  - {action['category']}: {action['action']}")
    paths = where_results_are(document)
    if paths:
        export = document["operation"] == "export"
        label = "export index" if export else "receipts"
        name = container if export else records_container
        where = f" in container {name}" if name else ""
        console.print(f"{label}{where}:")
        for path in paths:
            console.print(f"  {path}")
    delivery = document.get("delivery")
    if delivery:
        zipped = delivery["zip"]
        console.print(
            f"zip ({zipped['bytes']:,} bytes, sha256 {zipped['sha256']}): {zipped['path']}", markup=False
        )
        # Unwrapped, so the link can be copied whole; it is read-only and expires.
        console.print(
            f"  link, valid until {delivery['expiresAt']}: {delivery['url']}", markup=False, soft_wrap=True
        )


def print_requests(rows: list[dict[str, Any]], console: Console) -> None:
    """The ``list`` table."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("requestId", "operation", "state", "receivedAt"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["requestId"], row["operation"], _styled(row["state"]), row["receivedAt"])
    console.print(table)
    console.print(f"{len(rows)} request(s)")
