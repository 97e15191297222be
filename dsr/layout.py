"""Where everything lives in Blob Storage: the one module that spells a blob path.

Every other module asks here for a path (or for the request, project or unit a path belongs to), so
the layout can be read, and changed, in one place. Pure: no I/O, so orchestrators may import it.

Export container (working copies; deleted by the retention policy, see :mod:`dsr.retention`)::

    <requestId>/export/                             the export itself
        account-info.json, projects.json, iterations.json, iteration-details.json, tags.json,
        exported-models.json                        one document per small category
        images/<projectId>/images-<skip>.ndjson     workspace image records, one part per stretch
        images/<projectId>/iteration-<iterationId>-<kind>-images-<skip>.ndjson
                                                    images only a trained iteration still holds
        images/<projectId>/<imageId>.<ext>          original bytes; coco.json beside them
        predictions/<projectId>/predictions.ndjson  stored predictions, originals beside them
        iteration-performance/<projectId>/<iterationId>.json, <iterationId>-images-<skip>.ndjson
        pages/<projectId>/<kind>-<number>.html      paged views; index.html, manifest.json at the root
    <requestId>/work/account.json                   the request's one listing of projects and iterations
    <requestId>/work/<projectId>/run-<run>/ids-*.txt  ids one run of an image unit exported
    <requestId>/work/<projectId>/iterations.json    a delete's one listing of the project's iterations
    <requestId>/work/progress/attempt-NN/<unit>/<scope>  how far a unit has got (counts, as metadata)
    <requestId>/request/<fingerprint>/<payload>.json  subject / callback payloads kept out of history
    <requestId>/journal/<unit>/<scope>/             a delete unit's plan, step entries, verification
    <requestId>/delivery/<requestId>-export.zip     the export as one zip
    intake/rejected/<stamp>-<messageId>[-<index>].json  refused queue items (redacted)
    _ratebudget/<account>/<member>                  rate budget claims of running processes

Records container (kept; WORM in Azure)::

    _records/<requestId>.json                       the request record (first writer wins)
    <requestId>/status.json                         the finished status document
    <requestId>/request/approval.json               the approver's decision
    <requestId>/runs/<attempt>.json                 which start of an attempt runs it (its ticket)
    <requestId>/receipts/<unit>/<scope>.json        one receipt per delete unit; beside it, those of
        <scope>.to-step-NNNNNN[.attempt-NN].json, <scope>.attempt-NN.json, <scope>.at-cancel.json,
        <scope>.failed-attempt-NN.json              a refused step, a verification again, a cancel,
                                                    an attempt out of retries
    <requestId>/receipts/receipt.json, receipt.html the erasure certificate
    chains/<chainId>/head.json                      the head of an account's receipt chain

Request ids cannot start with ``_`` and are never one of :data:`SHARED_FOLDERS` (the contract refuses
them), so the shared prefixes cannot clash with a request's folder.
"""

from __future__ import annotations

import posixpath
from datetime import datetime

from dsr.categories import Category

SEPARATOR = "/"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
"""A moment in a blob name: compact, and sorting by name sorts by time."""
ACCOUNT_SCOPE = "account"
"""The scope of a unit that is not per project (its journal folder and receipt name)."""

CHAINS_FOLDER = "chains"
INTAKE_FOLDER = "intake"
SHARED_FOLDERS = frozenset({CHAINS_FOLDER, INTAKE_FOLDER})
"""Top-level folders that no request owns; a request id may not be one of them."""

RECORDS_PREFIX = "_records/"
REJECTED_PREFIX = f"{INTAKE_FOLDER}/rejected/"
BOARD_PREFIX = "_ratebudget/"

INDEX_NAME = "index.html"
MANIFEST_NAME = "manifest.json"
COCO_NAME = "coco.json"
CERTIFICATE_JSON = "receipt.json"
CERTIFICATE_HTML = "receipt.html"

CATEGORY_FILES: dict[str, str] = {
    Category.ACCOUNT_INFO: "account-info.json",
    Category.PROJECTS: "projects.json",
    Category.ITERATION_LIST: "iterations.json",
    Category.ITERATION_DETAILS: "iteration-details.json",
    Category.TAGS: "tags.json",
    Category.EXPORTED_MODELS: "exported-models.json",
}
"""The one document each small export category is written to, under the export root."""

_EXPORT = "export"
_IMAGES = "images"
_PREDICTIONS = "predictions"
_PERFORMANCE = "iteration-performance"
_WORK = "work"
_RECEIPTS = "receipts"
_SKIP_DIGITS = 7


def _join(*parts: str) -> str:
    return SEPARATOR.join(parts)


def _skip(start: int) -> str:
    """A listing offset as it appears in part names: zero-padded, so name order is listing order."""
    return f"{start:0{_SKIP_DIGITS}d}"


def request_of(path: str) -> str:
    """The request a path of a request's folder belongs to (its first segment)."""
    return path.split(SEPARATOR, 1)[0]


# -- the export ----------------------------------------------------------------------------------


def export_root(request_id: str) -> str:
    return _join(request_id, _EXPORT)


def export_member(request_id: str, member: str) -> str:
    """The blob of ``member``, a path relative to the export root (as the manifest and zip name it)."""
    return _join(export_root(request_id), member)


def export_member_name(request_id: str, path: str) -> str | None:
    """``path`` relative to the export root, or None when it lies outside the export."""
    prefix = export_root(request_id) + SEPARATOR
    return path.removeprefix(prefix) if path.startswith(prefix) else None


def category_file(request_id: str, category: str) -> str:
    """The document of a small export category (see :data:`CATEGORY_FILES`)."""
    return export_member(request_id, CATEGORY_FILES[category])


def images_folder(request_id: str, project_id: str) -> str:
    return export_member(request_id, _join(_IMAGES, project_id))


def image_part(request_id: str, project_id: str, start: int) -> str:
    """The workspace image records listed from offset ``start``."""
    return _join(images_folder(request_id, project_id), f"images-{_skip(start)}.ndjson")


def iteration_image_part(request_id: str, project_id: str, iteration_id: str, kind: str, start: int) -> str:
    """Records of images only iteration ``iteration_id`` still holds, found from offset ``start``."""
    name = f"iteration-{iteration_id}-{kind}-images-{_skip(start)}.ndjson"
    return _join(images_folder(request_id, project_id), name)


def original_stem(folder: str, item_id: str) -> str:
    """An original's blob in ``folder`` without its extension (added once its type is known)."""
    return _join(folder, item_id)


def coco_file(folder: str) -> str:
    return _join(folder, COCO_NAME)


def project_of_image_file(request_id: str, path: str) -> str | None:
    """The project an export image file is under, or None for another path."""
    name = export_member_name(request_id, path)
    if name is None:
        return None
    parts = name.split(SEPARATOR)
    return parts[1] if len(parts) > 2 and parts[0] == _IMAGES else None


def predictions_folder(request_id: str, project_id: str) -> str:
    return export_member(request_id, _join(_PREDICTIONS, project_id))


def predictions_part(request_id: str, project_id: str) -> str:
    return _join(predictions_folder(request_id, project_id), "predictions.ndjson")


def performance_folder(request_id: str, project_id: str) -> str:
    return export_member(request_id, _join(_PERFORMANCE, project_id))


def performance_summary(request_id: str, project_id: str, iteration_id: str) -> str:
    return _join(performance_folder(request_id, project_id), f"{iteration_id}.json")


def performance_part(request_id: str, project_id: str, iteration_id: str, start: int) -> str:
    return _join(performance_folder(request_id, project_id), f"{iteration_id}-images-{_skip(start)}.ndjson")


def is_performance_file(path: str) -> bool:
    """Whether an export file belongs to iteration performance (a shared image unit writes both)."""
    name = export_member_name(request_of(path), path)
    return name is not None and name.startswith(_PERFORMANCE + SEPARATOR)


def index_file(request_id: str) -> str:
    return export_member(request_id, INDEX_NAME)


def manifest_file(request_id: str) -> str:
    return export_member(request_id, MANIFEST_NAME)


def package_page(request_id: str, project_id: str, kind: str, number: int) -> str:
    """Page ``number`` of a project's paged view of ``kind`` (images or predictions)."""
    return export_member(request_id, _join("pages", project_id, f"{kind}-{number:04d}.html"))


def delivery_zip(request_id: str) -> str:
    return _join(request_id, "delivery", f"{request_id}-export.zip")


# -- a request's working files -------------------------------------------------------------------


def account_listing(request_id: str) -> str:
    """The request's own listing of projects and iterations (not part of the export itself)."""
    return _join(request_id, _WORK, "account.json")


def _ids_folder(request_id: str, project_id: str, run: str = "") -> str:
    folder = _join(request_id, _WORK, project_id)
    return _join(folder, f"run-{run}") if run else folder


def ids_prefix(request_id: str, project_id: str, kind: str, run: str = "") -> str:
    """What every ids part of one cursor ``kind`` (workspace, iteration, untagged) starts with.

    ``run`` is the image unit's run (see ``dsr.export``): each start from the first page has its
    own, so no run reads another's parts (empty: a unit started before runs existed)."""
    return _join(_ids_folder(request_id, project_id, run), f"ids-{kind}-")


def ids_part(request_id: str, project_id: str, kind: str, start: int, run: str = "") -> str:
    """Ids exported from the listing of one cursor ``kind`` from offset ``start`` (the workspace)."""
    return ids_prefix(request_id, project_id, kind, run) + f"{_skip(start)}.txt"


def iteration_ids_part(
    request_id: str, project_id: str, kind: str, iteration_id: str, start: int, run: str = ""
) -> str:
    """Ids exported from one iteration's listing from offset ``start``."""
    return ids_prefix(request_id, project_id, kind, run) + f"{iteration_id}-{_skip(start)}.txt"


def workspace_ids(request_id: str, project_id: str, run: str = "") -> str:
    """Every workspace id of a project, once the workspace is done."""
    return _join(_ids_folder(request_id, project_id, run), "workspace-ids.txt")


def iteration_listing(request_id: str, project_id: str) -> str:
    """A delete's listing of one project's iterations, taken by its images unit for the later units."""
    return _join(_ids_folder(request_id, project_id), "iterations.json")


def payload(request_id: str, fingerprint: str, name: str) -> str:
    """Where a payload kept out of Durable history lives: under the body's fingerprint."""
    return _join(request_id, "request", fingerprint, f"{name}.json")


def progress_folder(request_id: str, attempt: int) -> str:
    """Where one attempt's units record their progress (a retry's start from nothing)."""
    return _join(request_id, _WORK, "progress", f"attempt-{attempt:02d}") + SEPARATOR


def unit_progress(request_id: str, attempt: int, unit: str, project_id: str | None) -> str:
    """An empty blob whose metadata holds the counts a unit of one project has reported so far."""
    return progress_folder(request_id, attempt) + _join(unit, unit_scope(project_id))


def unit_of_progress(request_id: str, attempt: int, path: str) -> str:
    """The unit a progress blob belongs to."""
    return path.removeprefix(progress_folder(request_id, attempt)).split(SEPARATOR, 1)[0]


def unit_scope(project_id: str | None) -> str:
    return project_id or ACCOUNT_SCOPE


def journal_root(request_id: str, unit: str, scope: str) -> str:
    return _join(request_id, "journal", unit, scope)


def journal_plan(root: str) -> str:
    return _join(root, "plan.json")


def journals_prefix(request_id: str) -> str:
    return _join(request_id, "journal") + SEPARATOR


def unit_of_plan(request_id: str, plan_path: str) -> tuple[str, str | None] | None:
    """The delete unit (its name and project id, None account-wide) whose journal plan is
    ``plan_path``; None when it is not a plan."""
    rest = plan_path.removeprefix(journals_prefix(request_id))
    parts = rest.split(SEPARATOR)
    if rest == plan_path or len(parts) != 3 or parts[2] != "plan.json":
        return None
    return parts[0], None if parts[1] == ACCOUNT_SCOPE else parts[1]


def journal_steps_prefix(root: str) -> str:
    return _join(root, "step-")


def journal_step(root: str, index: int) -> str:
    return journal_steps_prefix(root) + f"{index:06d}.json"


def journal_verification(root: str) -> str:
    return _join(root, "verify.json")


# -- shared prefixes -----------------------------------------------------------------------------


def rejected_item(at: datetime, message_id: str, index: int | None) -> str:
    """A refused queue item; ``index`` is its place in a batch message (None: the whole message)."""
    suffix = "" if index is None else f"-{index}"
    return f"{REJECTED_PREFIX}{at.strftime(STAMP_FORMAT)}-{message_id}{suffix}.json"


def board_prefix(account: str) -> str:
    return f"{BOARD_PREFIX}{account}{SEPARATOR}"


def board_claim(account: str, member: str) -> str:
    return board_prefix(account) + member


# -- the records container -----------------------------------------------------------------------


def record(request_id: str) -> str:
    return f"{RECORDS_PREFIX}{request_id}.json"


def request_of_record(path: str) -> str | None:
    """The request id a record blob is for, or None for a blob that is not a record."""
    if not path.startswith(RECORDS_PREFIX) or not path.endswith(".json"):
        return None
    return path.removeprefix(RECORDS_PREFIX).removesuffix(".json")


def status(request_id: str) -> str:
    """The finished status document, beside the receipts."""
    return _join(request_id, "status.json")


def run_ticket(request_id: str, attempt: int) -> str:
    """Beside the status document in the records container (the list reads only the records)."""
    return _join(request_id, "runs", f"{attempt}.json")


def approval(request_id: str) -> str:
    return _join(request_id, "request", "approval.json")


def cancel_marker(request_id: str) -> str:
    """Written (export container) when an operator cancels: running delete units stop at their next step."""
    return _join(request_id, "request", "cancel.json")


def receipts_folder(request_id: str) -> str:
    return _join(request_id, _RECEIPTS)


def receipts_prefix(request_id: str) -> str:
    return receipts_folder(request_id) + SEPARATOR


def receipt(request_id: str, unit: str, project_id: str | None) -> str:
    """The receipt of one delete unit (per project, or ``account`` for the account-wide ones)."""
    return _join(receipts_folder(request_id), unit, f"{unit_scope(project_id)}.json")


def partial_receipt(
    request_id: str, unit: str, project_id: str | None, failed_step: int, attempt: int = 1
) -> str:
    """The receipt of a delete unit that ``attempt`` saw fail at ``failed_step``: the steps before it.

    Not the unit's own receipt path: a retry completes the unit and writes that one, and the chain
    keeps a sealed receipt per path, so the two must not share one. For the same reason a later
    attempt refused at the same step names itself (``.attempt-NN``): the first attempt's receipt stays
    as it was sealed, and each attempt's status document points at the receipt it wrote. The first
    attempt's name has no suffix, as it had before attempts were named.
    """
    stem = f"{unit_scope(project_id)}.to-step-{failed_step:06d}"
    if attempt > 1:
        stem += f".attempt-{attempt:02d}"
    return _join(receipts_folder(request_id), unit, f"{stem}.json")


def attempt_receipt(request_id: str, unit: str, project_id: str | None, attempt: int) -> str:
    """The receipt of a delete unit verified again by ``attempt`` (2 or later) after an earlier attempt
    wrote its receipt unverified: that one stays as it was sealed, this one sits beside it."""
    return _join(receipts_folder(request_id), unit, f"{unit_scope(project_id)}.attempt-{attempt:02d}.json")


def stopped_receipt(request_id: str, unit: str, project_id: str | None) -> str:
    """The receipt a cancel writes from the journal of a delete unit that was not running to write its
    own (paused at its time budget, or cut short by a crash); beside the unit's own receipt path, which
    the unit may still write if its activity runs once more after the cancel."""
    return _join(receipts_folder(request_id), unit, f"{unit_scope(project_id)}.at-cancel.json")


def failed_receipt(request_id: str, unit: str, project_id: str | None, attempt: int) -> str:
    """The receipt written from the journal of a delete unit that ``attempt`` gave up on (its activity
    out of retries): what it deleted before. Beside its own receipt path, which a retry writes."""
    return _join(
        receipts_folder(request_id), unit, f"{unit_scope(project_id)}.failed-attempt-{attempt:02d}.json"
    )


def unit_of_receipt(request_id: str, path: str) -> str:
    """The delete unit a receipt blob belongs to."""
    return path.removeprefix(receipts_prefix(request_id)).split(SEPARATOR, 1)[0]


def certificate_json(request_id: str) -> str:
    return _join(receipts_folder(request_id), CERTIFICATE_JSON)


def certificate_html(request_id: str) -> str:
    return _join(receipts_folder(request_id), CERTIFICATE_HTML)


def chain_head(chain_id: str) -> str:
    """The head of one account's receipt chain (see :mod:`dsr.chain`)."""
    return _join(CHAINS_FOLDER, chain_id, "head.json")


def folder_of(path: str) -> str:
    """The folder a blob is in."""
    return posixpath.dirname(path)
