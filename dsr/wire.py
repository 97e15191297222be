"""The wire contract: every value that crosses a Durable Functions boundary, and the names it is sent to.

Durable serializes these values to JSON in orchestration history (``start_new`` input, activity and
sub-orchestrator inputs and results, external events, custom status), so they are plain-JSON
TypedDicts, and a change to one is a change to what replays read: keep new keys ``NotRequired`` so
histories written before them still replay. Pure (no I/O, no Functions imports), so triggers,
orchestrators and activities all depend on this module rather than on one another.

No ``from __future__ import annotations`` here: the TypedDicts' required and optional keys are read
at run time (``__required_keys__``, pinned against the schema by a test), which needs real annotations.
"""

from typing import Any, Literal, NotRequired, TypedDict

from dsr.contract import DsrRequest, Operation
from dsr.units import Job, ProjectSummary, ResolvedAccount, Unit, UnitResult

# Registered function names: the starter, the orchestrators and the activities must agree on them.
DSR_REQUEST = "dsr_request"
DSR_CATEGORY = "dsr_category"
DSR_PAGED_UNIT = "dsr_paged_unit"

CLAIM_RUN = "claim_run"
RESOLVE_ACCOUNT = "resolve_account"
RUN_UNIT = "run_unit"
WRITE_STATUS = "write_status"
WRITE_FAILED_RECEIPT = "write_failed_receipt"
NOTIFY_CALLBACK = "notify_callback"

APPROVAL_EVENT = "approval"
"""The external event that carries an :class:`ApprovalDecision` to a delete waiting for one."""

RequestState = Literal[
    "pending", "awaiting_approval", "running", "succeeded", "partially_succeeded", "failed", "canceled"
]
CategoryState = Literal[
    "pending", "running", "succeeded", "failed", "not_attributable", "manual_action_required", "skipped"
]
Decision = Literal["approve", "reject"]


# The status document (``docs/status.schema.json``; a test keeps the two in step).


class Extension(TypedDict):
    months: int
    reason: str
    originalDueAt: str


class Receipt(TypedDict):
    files: list[dict[str, Any]]


class CategoryEntry(TypedDict):
    state: CategoryState
    counts: dict[str, int]
    files: list[dict[str, Any]]
    receipt: Receipt | None
    verified: bool | None
    error: str | None
    note: str | None


class Approval(TypedDict):
    required: bool
    deadline: str
    decision: Literal["approve", "reject", "expired"] | None
    by: NotRequired[str | None]
    principal: NotRequired[str | None]
    at: NotRequired[str | None]
    comment: NotRequired[str | None]


class CallbackOutcome(TypedDict):
    delivered: bool
    status: int | None
    error: NotRequired[str | None]


class AttemptRecord(TypedDict):
    """One earlier run of a retried request."""

    attempt: int
    state: str
    startedAt: str
    completedAt: str | None
    categories: dict[str, str]


class StatusDocument(TypedDict):
    """The answer to GET /api/requests/{id}, written as ``status.json`` beside the receipts.

    Built and changed only by the transitions in :mod:`dsr.status`; the finished document also gets
    the package references (``manifest``, ``index``, ``receipt``, ``delivery``) when written.
    """

    schemaVersion: str
    requestId: str
    operation: Operation
    state: RequestState
    receivedAt: str
    dueAt: str
    extension: Extension | None
    completedAt: str | None
    request: dict[str, Any]
    """The request as submitted, minus anything sensitive (:func:`dsr.status.request_echo`)."""
    categories: dict[str, CategoryEntry]
    manifest: dict[str, Any] | None
    index: NotRequired[dict[str, Any] | None]
    receipt: NotRequired[dict[str, Any] | None]
    delivery: NotRequired[dict[str, Any] | None]
    statusFile: dict[str, str] | None
    approval: Approval | None
    callback: CallbackOutcome | None
    projectsNotFound: list[str]
    projects: NotRequired[list[ProjectSummary]]
    manualActions: list[dict[str, str]]
    attempts: list[AttemptRecord]
    cancellation: dict[str, Any] | None
    error: str | None
    retention: dict[str, Any] | None


class CategoryProgress(TypedDict):
    state: CategoryState
    counts: dict[str, int]
    verified: bool | None
    error: str | None


class Progress(TypedDict):
    """Durable custom status: a compact copy of the document while the request runs (under 16 KB)."""

    requestId: str
    state: RequestState
    categories: dict[str, CategoryProgress]
    approval: Approval | None
    attempts: list[AttemptRecord]
    error: str | None


# start_new: the input of ``dsr_request``.


class ApprovalSettings(TypedDict):
    required: bool
    timeoutHours: NotRequired[float]
    """Set when ``required``: how long the delete waits for a decision before it is canceled."""


class RetryBlock(TypedDict):
    """What a retry carries: only ``categories`` run again; the others keep their last outcome."""

    attempt: int
    startedAt: str
    categories: list[str]
    attempts: list[AttemptRecord]
    carried: dict[str, CategoryEntry]
    approval: Approval | None
    """The decision the first run recorded; it covers re-running the categories."""
    projects: NotRequired[list[ProjectSummary]]
    """The projects the earlier attempts had in scope. Units run for them again even if they are gone
    now (the first attempt's projects unit may have deleted them), so what their journals recorded
    keeps its receipt. Absent in retries started before it existed."""


class RunTicket(TypedDict):
    """Which start of an attempt may run it: every start carries a fresh token in its input."""

    attempt: int
    token: str


class RequestInput(TypedDict):
    request: DsrRequest
    receivedAt: str
    approval: ApprovalSettings
    retry: NotRequired[RetryBlock]
    run: NotRequired[RunTicket]
    """Absent only in instances started before run tickets existed (see :func:`dsr.records.claim_run`)."""


# raise_event: the approval decision.


class ApprovalDecision(TypedDict):
    by: str
    decision: Decision
    comment: str | None
    principal: str | None
    """The authenticated caller, when App Service authentication fronts the app."""


# call_activity: inputs and results.


class ClaimRunInput(TypedDict):
    requestId: str
    run: RunTicket


class ClaimRunResult(TypedDict):
    owner: bool
    """False for a duplicate start of a finished attempt: it must run nothing."""
    document: StatusDocument | None
    """Not the owner: the recorded status document, handed back as the instance's output."""


class Resolved(TypedDict):
    kind: Literal["resolved"]
    account: ResolvedAccount
    projects: list[ProjectSummary]
    missingProjectIds: list[str]
    """Requested project ids the account does not have (already deleted, or never existed)."""


class ResolutionFailed(TypedDict):
    kind: Literal["failed"]
    error: str
    """Why (a permanent error: wrong key, unknown secret, endpoint not allowed); nothing was changed."""


Resolution = Resolved | ResolutionFailed
"""The result of ``resolve_account``; its input is the :class:`dsr.contract.DsrRequest`."""


class RunUnitInput(TypedDict):
    job: Job
    unit: Unit
    soFar: NotRequired[dict[str, int]]
    """Set for the units of one project each: the counts of the unit's earlier calls (a paged unit's;
    none for a unit called once). The activity then records how far the unit has got
    (:func:`dsr.progress.record_progress`) for status polls while the category runs."""


class FailedUnitInput(TypedDict):
    """A delete unit whose ``run_unit`` ran out of retries: ``error`` says why."""

    job: Job
    unit: Unit
    error: str


class NotifyCallbackInput(TypedDict):
    callbackFile: str
    document: StatusDocument


# call_sub_orchestrator: inputs (their results are a CategoryEntry and a UnitResult).


class CategoryInput(TypedDict):
    job: Job
    category: str
    """A category, or the unit that serves several at once (see :func:`dsr.units.phase_units`)."""


class PagedUnitInput(TypedDict):
    job: Job
    unit: Unit
    combined: NotRequired[UnitResult]
    """The results of the generations before this one, folded together (continue-as-new carries it)."""
