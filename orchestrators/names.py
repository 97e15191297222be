"""Registered function names shared by starters, orchestrators and activities."""

DSR_REQUEST = "dsr_request"
DSR_CATEGORY = "dsr_category"
DSR_PAGED_UNIT = "dsr_paged_unit"

CLAIM_RUN = "claim_run"
RESOLVE_ACCOUNT = "resolve_account"
RUN_UNIT = "run_unit"
WRITE_STATUS = "write_status"
NOTIFY_CALLBACK = "notify_callback"

APPROVAL_EVENT = "approval"
