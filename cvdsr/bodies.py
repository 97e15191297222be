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
"""``projectIds`` is a space-separated list. The options of ``submit`` apply to each row, except
``--request-id`` (refused: give a ``requestId`` column); a row's ``projectIds`` that differs from
``-p/--project`` is refused."""

_FLAGS = {"requestId": "--request-id", "projectIds": "-p/--project"}


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


def build_body(options: Options, endpoint: str, secret: str, **row_fields: Any) -> dict[str, Any]:
    """One request body; ``row_fields`` (from a CSV row) fill in what the options leave unset.

    A field the options and the row both set, to different values, is refused rather than chosen
    between (the rule of ``body_from_file``): the row must not change the request's scope unseen.
    """
    fields = option_fields(options)
    for name, value in row_fields.items():
        if value and fields.setdefault(name, value) != value:
            flag = _FLAGS.get(name, "the options")
            raise CliError(f"the row's {name} differs from {flag}; give it once")
    body: dict[str, Any] = {
        "requestId": fields.pop("requestId", None) or new_request_id(options.operation),
        "operation": options.operation,
        "account": {"endpoint": endpoint, "trainingKeySecret": secret},
    }
    body.update(fields)
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


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and each row with its line number; a row with more or fewer fields is refused.

    ``csv.DictReader`` would drop a row's extra fields (an unquoted second project id) and fill
    missing ones with ``None``; messages name lines and columns, never a value.
    """
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            for fields in reader:
                if not fields:  # a blank line
                    continue
                if len(fields) != len(header):
                    raise CliError(
                        f"{path} line {reader.line_num} has {len(fields)} fields, the header {len(header)}"
                        " (quote a value that holds a comma)"
                    )
                rows.append((reader.line_num, dict(zip(header, fields, strict=True))))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    except csv.Error as exc:
        raise CliError(f"{path} line {reader.line_num} is not valid CSV: {exc}") from None
    return header, rows


def bodies_from_csv(path: Path, options: Options) -> list[dict[str, Any]]:
    """One body per CSV row (header: endpoint, trainingKeySecret, and optionally requestId, projectIds)."""
    header, rows = _csv_rows(path)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise CliError(f"{path} repeats the column {', '.join(repeated)}")
    if not rows:
        raise CliError(f"{path} has no rows")
    missing = [c for c in CSV_REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CliError(f"{path} needs the column(s) {', '.join(missing)}")
    unknown = sorted(set(header) - set(CSV_REQUIRED_COLUMNS) - set(CSV_OPTIONAL_COLUMNS))
    if unknown:
        raise CliError(f"{path} has unknown column(s) {', '.join(unknown)}")
    if options.request_id:
        raise CliError("--request-id names one request; give ids in a requestId column instead")
    option_fields(options)  # a bad option is refused once, not as if a row were wrong
    bodies = []
    for number, row in rows:
        if not row["endpoint"] or not row["trainingKeySecret"]:
            raise CliError(f"{path} line {number}: endpoint and trainingKeySecret are required")
        try:
            body = build_body(
                options,
                row["endpoint"].strip(),
                row["trainingKeySecret"].strip(),
                requestId=(row.get("requestId") or "").strip(),
                projectIds=(row.get("projectIds") or "").split(),
            )
        except CliError as exc:
            raise CliError(f"{path} line {number}: {exc}") from None
        bodies.append(body)
    return bodies
