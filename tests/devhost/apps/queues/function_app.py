# mypy: disable-error-code="untyped-decorator"
"""Test function app for devhost queue triggers: a durable starter and an always-failing consumer."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

OK_QUEUE = "devhost-test-start"
FAIL_QUEUE = "devhost-test-fail"
_FAILED_ATTEMPTS: list[dict[str, object]] = []


@app.queue_trigger(arg_name="msg", queue_name=OK_QUEUE, connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def start_from_queue(msg: func.QueueMessage, client) -> None:
    request = json.loads(msg.get_body())
    await client.start_new("echo_orchestrator", instance_id=request["id"], client_input=request)


@app.queue_trigger(arg_name="msg", queue_name=FAIL_QUEUE, connection="AzureWebJobsStorage")
def always_fails(msg: func.QueueMessage) -> None:
    _FAILED_ATTEMPTS.append({"body": msg.get_body().decode(), "dequeue_count": msg.dequeue_count})
    raise RuntimeError("cannot handle this message")


@app.route(route="attempts", methods=["GET"])
def attempts(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(_FAILED_ATTEMPTS), mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def echo_orchestrator(context: df.DurableOrchestrationContext):
    request = context.get_input()
    doubled = yield context.call_activity("double", request["value"])
    return {"id": request["id"], "doubled": doubled}


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2
