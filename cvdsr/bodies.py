"""Request bodies for ``submit``: from flags, from a JSON file, or one per row of a CSV of accounts."""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvdsr.client import CliError

CSV_REQUIRED_COLUMNS = ("endpoint", "trainingKeySecret")
CSV_OPTIONAL_COLUMNS = ("requestId", "projectIds")
"""``projectIds`` is a space-separated list; every other option of ``submit`` applies to each row."""


@dataclass(frozen=True)
class Options:
    """What ``submit`` was given besides where the account comes from."""

    operation: str
    categories: list[str] = field(default_factory=list)
    project_ids: list[str] = field(default_factory=list)
    subject: list[str] = field(default_factory=list)
    """``KEY=VALUE`` image metadata pairs that identify one data subject."""
    dry_run: bool = False
    request_id: str | None = None
    callback_url: str | None = None
    zip: bool = False
    """Export only: also deliver the export as one zip (the app refuses it for a delete)."""


def new_request_id(operation: str) -> str:
    """A readable, unique id for requests submitted without one."""
    return f"{operation}-{uuid.uuid4().hex[:12]}"


def _subject(pairs: list[str]) -> dict[str, Any] | None:
    if not pairs:
        return None
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--subject takes KEY=VALUE, got {pair.split('=')[0]!r}...")
        if key in metadata:  # the API refuses a repeated key; a last-one-wins here would hide it
            raise CliError(f"--subject {key} is given twice")
        metadata[key] = value
    return {"metadata": metadata}


def option_fields(options: Options) -> dict[str, Any]:
    """The body fields the options set (besides the operation and the account); unset ones are absent."""
    fields: dict[str, Any] = {}
    if options.request_id:
        fields["requestId"] = options.request_id
    if options.categories:
        fields["categories"] = list(options.categories)
    if options.project_ids:
        fields["projectIds"] = list(options.project_ids)
    subject = _subject(options.subject)
    if subject:
        fields["subject"] = subject
    if options.dry_run:
        fields["dryRun"] = True
    if options.zip:
        fields["zip"] = True
    if options.callback_url:
        fields["callbackUrl"] = options.callback_url
    return fields


def build_body(options: Options, endpoint: str, secret: str, **overrides: Any) -> dict[str, Any]:
    """One request body; ``overrides`` (from a CSV row) win over the options."""
    body: dict[str, Any] = {
        "requestId": options.request_id or new_request_id(options.operation),
        "operation": options.operation,
        "account": {"endpoint": endpoint, "trainingKeySecret": secret},
    }
    body.update(option_fields(options))
    body.update({k: v for k, v in overrides.items() if v})
    return body


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise CliError(f"the request repeats the key {key!r} within one object")
        document[key] = value
    return document


def body_from_file(path: Path, options: Options) -> dict[str, Any]:
    """A complete request body (the API's JSON) from a file, with the options applied to it.

    An option the file already sets to another value is refused rather than chosen between: a
    request that deletes must say one thing. ``-`` is not supported on purpose.
    """
    try:
        body = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
    except CliError as exc:
        raise CliError(f"{path}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read a JSON request from {path}: {exc}") from exc
    if not isinstance(body, dict):
        raise CliError(f"{path} must hold one JSON object (a request body)")
    if body.setdefault("operation", options.operation) != options.operation:
        raise CliError(f"{path} is a {body['operation']} request, not {options.operation}")
    for name, value in option_fields(options).items():
        if body.setdefault(name, value) != value:
            raise CliError(f"{path} sets {name} to something else than the options do; give it once")
    return body


def bodies_from_csv(path: Path, options: Options) -> list[dict[str, Any]]:
    """One body per CSV row (header: endpoint, trainingKeySecret, and optionally requestId, projectIds)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    if not rows:
        raise CliError(f"{path} has no rows")
    columns = set(rows[0])
    missing = [c for c in CSV_REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CliError(f"{path} needs the column(s) {', '.join(missing)}")
    unknown = sorted(columns - set(CSV_REQUIRED_COLUMNS) - set(CSV_OPTIONAL_COLUMNS))
    if unknown:
        raise CliError(f"{path} has unknown column(s) {', '.join(unknown)}")
    if options.request_id:
        raise CliError("--request-id names one request; give ids in a requestId column instead")
    bodies = []
    for number, row in enumerate(rows, start=2):
        if not row["endpoint"] or not row["trainingKeySecret"]:
            raise CliError(f"{path} line {number}: endpoint and trainingKeySecret are required")
        projects = (row.get("projectIds") or "").split()
        bodies.append(
            build_body(
                options,
                row["endpoint"].strip(),
                row["trainingKeySecret"].strip(),
                requestId=(row.get("requestId") or "").strip(),
                projectIds=projects,
            )
        )
    return bodies
