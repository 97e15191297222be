# mypy: disable-error-code="untyped-decorator"
"""Test function app for devhost timer triggers: a timer that starts an orchestration every second,
one that fails every time, and a route that reports what they saw."""

import json

import azure.durable_functions as df
import azure.functions as func
from azure.functions.timer import TimerRequest

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_TICKS: list[dict[str, object]] = []
_FAILURES: list[str] = []


@app.timer_trigger(arg_name="timer", schedule="%TIMER_TEST_SCHEDULE%", run_on_startup=True)
@app.durable_client_input(client_name="client")
async def tick(timer: TimerRequest, client) -> None:
    instance_id = await client.start_new("echo_orchestrator", client_input=len(_TICKS))
    _TICKS.append(
        {"pastDue": timer.past_due, "next": timer.schedule_status.get("Next"), "instanceId": instance_id}
    )


@app.timer_trigger(arg_name="timer", schedule="*/1 * * * * *")
def always_fails(timer: func.TimerRequest) -> None:
    _FAILURES.append("failed")
    raise RuntimeError("this timer always fails")


@app.route(route="ticks", methods=["GET"])
def ticks(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"ticks": _TICKS, "failures": len(_FAILURES)}), mimetype="application/json"
    )


@app.orchestration_trigger(context_name="context")
def echo_orchestrator(context: df.DurableOrchestrationContext):
    return context.get_input()
