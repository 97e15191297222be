# mypy: disable-error-code="untyped-decorator"
"""Test function app for devhost queue triggers: a durable starter and an always-failing consumer."""

import asyncio
import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

OK_QUEUE = "devhost-test-start"
FAIL_QUEUE = "devhost-test-fail"
# Declared in capitals: the host lower-cases queue names.
UPPER_QUEUE = "DEVHOST-TEST-SLOW"
# Nobody creates this one: the listener must not either.
MISSING_QUEUE = "devhost-test-missing"
_FAILED_ATTEMPTS: list[dict[str, object]] = []
_SLOW: dict[str, int] = {"running": 0, "peak": 0, "done": 0}
_DEQUEUE_COUNTS: list[int] = []


@app.queue_trigger(arg_name="msg", queue_name=OK_QUEUE, connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def start_from_queue(msg: func.QueueMessage, client) -> None:
    request = json.loads(msg.get_body())
    await client.start_new("echo_orchestrator", instance_id=request["id"], client_input=request)


@app.queue_trigger(arg_name="msg", queue_name=FAIL_QUEUE, connection="AzureWebJobsStorage")
def always_fails(msg: func.QueueMessage) -> None:
    _FAILED_ATTEMPTS.append({"body": msg.get_body().decode(), "dequeue_count": msg.dequeue_count})
    raise RuntimeError("cannot handle this message")


@app.queue_trigger(arg_name="msg", queue_name=UPPER_QUEUE, connection="AzureWebJobsStorage")
async def slow_consumer(msg: func.QueueMessage) -> None:
    _SLOW["running"] += 1
    _SLOW["peak"] = max(_SLOW["peak"], _SLOW["running"])
    _DEQUEUE_COUNTS.append(msg.dequeue_count or 0)
    try:
        await asyncio.sleep(json.loads(msg.get_body())["seconds"])
    finally:
        _SLOW["running"] -= 1
        _SLOW["done"] += 1


@app.queue_trigger(arg_name="msg", queue_name=MISSING_QUEUE, connection="AzureWebJobsStorage")
def never_runs(msg: func.QueueMessage) -> None:
    raise AssertionError("the queue does not exist")


@app.route(route="slow", methods=["GET"])
def slow_stats(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({**_SLOW, "dequeue_counts": _DEQUEUE_COUNTS}), mimetype="application/json"
    )


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
