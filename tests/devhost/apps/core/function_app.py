# mypy: disable-error-code="untyped-decorator"
"""Test function app for devhost: HTTP routing, durable client starters and orchestration scenarios."""

import json
import time
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

# Activity-side attempt counters (activities may keep state; orchestrators must not).
_ATTEMPTS: dict[str, int] = {}
# Flipped by the determinism test to make an orchestrator take a different path on replay.
NONDETERMINISTIC_SWITCH = {"value": "first"}


# ---------------------------------------------------------------- HTTP: starters and management
@app.route(route="start/{name}/{instance_id?}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    try:
        instance_id = await client.start_new(
            req.route_params["name"], instance_id=req.route_params.get("instance_id"), client_input=payload
        )
    except Exception as ex:
        return func.HttpResponse(json.dumps({"error": str(ex)}), status_code=409, mimetype="application/json")
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


@app.route(route="manage/{instance_id}/{op}", methods=["GET", "POST", "DELETE"])
@app.durable_client_input(client_name="client")
async def manage(req: func.HttpRequest, client) -> func.HttpResponse:
    instance_id, op = req.route_params["instance_id"], req.route_params["op"]
    out: object = None
    if op == "status":
        status = await client.get_status(instance_id, show_history=True, show_history_output=True)
        if status:
            out = {**status.to_json(), "historyEvents": getattr(status, "historyEvents", None)}
    elif op == "raise":
        await client.raise_event(instance_id, req.params["name"], json.loads(req.get_body() or b"null"))
    elif op == "terminate":
        await client.terminate(instance_id, req.params.get("reason", "stopped"))
    elif op == "purge":
        out = {"deleted": (await client.purge_instance_history(instance_id)).instances_deleted}
    elif op == "list":
        wanted = [df.OrchestrationRuntimeStatus(s) for s in req.params.get("status", "").split(",") if s]
        out = [s.to_json() for s in await client.get_status_by(runtime_status=wanted or None)]
    elif op == "all":
        out = [s.to_json() for s in await client.get_status_all()]
    return func.HttpResponse(json.dumps(out, default=str), mimetype="application/json")


# ---------------------------------------------------------------- HTTP: plain routing
@app.route(route="items/{id:int}", methods=["GET"])
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"id": int(req.route_params["id"]), "q": req.params.get("q")}), mimetype="application/json"
    )


@app.route(route="echo/{*rest}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(
            {
                "method": req.method,
                "rest": req.route_params.get("rest"),
                "body": req.get_body().decode(),
                "header": req.headers.get("x-test"),
                "params": dict(req.params),
            }
        ),
        status_code=201,
        mimetype="application/json",
        headers={"x-echo": "yes"},
    )


@app.route(route="optional/{name?}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def optional(req: func.HttpRequest) -> str:
    return str(req.route_params.get("name", "none"))


@app.route(route="nothing", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def nothing(req: func.HttpRequest) -> None:
    return None


@app.route(route="explode", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def explode(req: func.HttpRequest) -> str:
    raise RuntimeError("kaboom")


# ---------------------------------------------------------------- orchestrators
@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()["n"]
    results = yield context.task_all([context.call_activity("square", i) for i in range(n)])
    context.set_custom_status({"count": len(results)})
    return sum(results)


@app.orchestration_trigger(context_name="context")
def catches_failure(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("always_fail", "once")
    except Exception as ex:
        return "caught: " + str(ex).split("\n")[0].strip()
    return "no error"


@app.orchestration_trigger(context_name="context")
def uncaught_failure(context: df.DurableOrchestrationContext):
    yield context.call_activity("always_fail", "loud")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=20, max_number_of_attempts=spec["max"])
    try:
        return (
            yield context.call_activity_with_retry(
                "flaky", options, {"key": context.instance_id, "fail_times": spec["fail_times"]}
            )
        )
    except Exception as ex:
        return "exhausted: " + str(ex).split("\n")[0].strip()


@app.orchestration_trigger(context_name="context")
def race_retry(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=30, max_number_of_attempts=3)
    slow = context.call_activity_with_retry("flaky", options, {"key": context.instance_id, "fail_times": 2})
    timer = context.create_timer(context.current_utc_datetime + timedelta(milliseconds=1))
    winner = yield context.task_any([slow, timer])
    a = yield context.call_activity("square", 3)
    b = yield slow
    return [winner == timer, a, b]


@app.orchestration_trigger(context_name="context")
def retry_fan_out(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=10, max_number_of_attempts=3)
    iid = context.instance_id
    tasks = [
        context.call_activity_with_retry("flaky", options, {"key": f"{iid}-{i}", "fail_times": i % 3})
        for i in range(6)
    ] + [context.call_activity("square", i) for i in range(4)]
    first = yield context.task_all(tasks)
    last = yield context.call_activity("square", 5)
    return [first, last]


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    mode = context.get_input()
    if mode == "ok":
        return (yield context.call_sub_orchestrator("fan_out", {"n": 4}))
    try:
        yield context.call_sub_orchestrator(
            "uncaught_failure", None, instance_id=context.instance_id + "-child"
        )
    except Exception as ex:
        return "child failed: " + str(ex).split("\n")[0].strip()
    return "no error"


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    seconds = context.get_input()["timeout"]
    timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    approved = context.wait_for_external_event("approve")
    context.set_custom_status("waiting")
    winner = yield context.task_any([approved, timer])
    if winner == approved:
        timer.cancel()
        return {"approved": approved.result}
    return "timed out"


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    start_time = context.current_utc_datetime
    yield context.create_timer(start_time + timedelta(milliseconds=300))
    return (context.current_utc_datetime - start_time).total_seconds() >= 0.3


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting"})
    yield context.call_activity("square", 2)
    value = yield context.wait_for_external_event("go")
    return value


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    n = context.get_input() or 0
    yield context.call_activity("square", n)
    if n < 3:
        context.continue_as_new(n + 1)
        return None
    return f"finished at {n}"


@app.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    yield context.call_activity("square", 1)
    name = "square" if NONDETERMINISTIC_SWITCH["value"] == "first" else "always_fail"
    yield context.call_activity(name, 2)
    return "done"


@app.orchestration_trigger(context_name="context")
def slow_steps(context: df.DurableOrchestrationContext):
    n = context.get_input()["n"]
    total = 0
    for i in range(n):
        total += yield context.call_activity("slow_square", i)
        context.set_custom_status({"done": i + 1})
    return total


@app.orchestration_trigger(context_name="context")
def catches_secret(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("leaks_secret", None)
    except Exception as ex:
        return "caught: " + str(ex).split("\n")[0].strip()
    return "no error"


@app.orchestration_trigger(context_name="context")
def big_status(context: df.DurableOrchestrationContext):
    context.set_custom_status("x" * (context.get_input()["chars"] - 2))  # the JSON quotes count too
    yield context.call_activity("square", 1)
    return "done"


@app.orchestration_trigger(context_name="context")
def slow_retry(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1500, max_number_of_attempts=2)
    key = context.get_input()["key"]
    try:
        yield context.call_activity_with_retry("flaky", options, {"key": key, "fail_times": 99})
    except Exception:
        return "exhausted after 2 attempts"
    return "unexpected success"


# ---------------------------------------------------------------- activities
@app.activity_trigger(input_name="x")
def square(x: int) -> int:
    return x * x


@app.activity_trigger(input_name="x")
def slow_square(x: int) -> int:
    time.sleep(0.25)
    return x * x


@app.activity_trigger(input_name="arg")
def always_fail(arg: str) -> str:
    raise ValueError("boom-" + arg)


@app.activity_trigger(input_name="arg")
def leaks_secret(arg: None) -> str:
    raise RuntimeError('cannot connect with "AccountKey=not-a-real-key;EndpointSuffix=local" (retry later)')


@app.activity_trigger(input_name="arg")
async def flaky(arg: dict[str, Any]) -> str:
    key = arg["key"]
    _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
    if _ATTEMPTS[key] <= arg["fail_times"]:
        raise RuntimeError(f"flaky attempt {_ATTEMPTS[key]}")
    return f"ok after {_ATTEMPTS[key]} attempts"
