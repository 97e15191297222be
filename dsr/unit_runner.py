"""Running one unit of a request: what export and delete units share.

A unit's handler gets the account's client for that unit (counted against the account's rate budget
while it runs) and returns its :class:`~dsr.units.UnitResult`. A per-project unit whose project was
deleted in the meantime is told apart from one that met a missing item, and gets the operation's own
"project gone" result instead of an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dsr.customvision import NotFoundError, TrainingClient
from dsr.runtime import Runtime
from dsr.units import Job, Unit, UnitResult

UnitHandler = Callable[[Job, Unit, Runtime, TrainingClient], UnitResult]

NOT_FOUND_ITERATION_CODE = "NotFoundIteration"


def iteration_gone(exc: NotFoundError) -> bool:
    """Whether the 404 says the iteration is not there (deleted since it was listed)."""
    return exc.code == NOT_FOUND_ITERATION_CODE


def trained(status: str | None) -> bool:
    """Whether an iteration finished training (only those have performance data and images)."""
    return (status or "").lower() == "completed"


def project_exists(client: TrainingClient, project_id: str) -> bool:
    try:
        client.get_project(project_id)
    except NotFoundError:
        return False
    return True


def run_with_handlers(
    handlers: Mapping[str, UnitHandler],
    job: Job,
    unit: Unit,
    runtime: Runtime,
    project_gone: Callable[[], UnitResult],
) -> UnitResult:
    """Run the unit's handler; a per-project unit whose project has vanished gets ``project_gone()``.

    The unit counts against the account's rate budget while it runs; its result counts the Training
    API calls it made (``apiCalls``) and the throttled (429) answers it got (``throttled``).
    """
    with runtime.unit_client(job["account"]) as (client, tally):
        try:
            result = handlers[unit["category"]](job, unit, runtime, client)
        except NotFoundError:
            if unit["projectId"] is None or project_exists(client, unit["projectId"]):
                raise
            result = project_gone()
    result["counts"] = {**result["counts"], "apiCalls": tally.api_calls, "throttled": tally.throttled}
    return result
