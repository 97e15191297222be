# mypy: disable-error-code="untyped-decorator"
"""Test function app for functionTimeout: one activity runs past the limit while another runs beside it."""

import json
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_ATTEMPTS: dict[str, int] = {}


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], client_input=json.loads(req.get_body()))
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


@app.orchestration_trigger(context_name="context")
def slow(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("too_slow", None)
    except Exception as ex:
        return str(ex).split("\n")[0].strip()
    return "finished"


@app.orchestration_trigger(context_name="context")
def beside(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("bystander", context.get_input()["key"]))


@app.activity_trigger(input_name="arg")
def too_slow(arg: None) -> str:
    time.sleep(4)  # past the 2 s functionTimeout of this app
    return "too late"


@app.activity_trigger(input_name="key")
def bystander(key: str) -> str:
    # Its first attempt is still running when the other call times out and the worker restarts.
    _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
    if _ATTEMPTS[key] == 1:
        time.sleep(3)
    return f"attempt {_ATTEMPTS[key]}"
