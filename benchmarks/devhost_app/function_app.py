# mypy: disable-error-code="untyped-decorator"
"""Benchmark app: one orchestration fanning out to N trivial activities."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="fan/{n:int}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_fan(req: func.HttpRequest, client) -> func.HttpResponse:
    instance_id = await client.start_new("fan", client_input={"n": int(req.route_params["n"])})
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


@app.orchestration_trigger(context_name="context")
def fan(context: df.DurableOrchestrationContext):
    n = context.get_input()["n"]
    values = yield context.task_all([context.call_activity("inc", i) for i in range(n)])
    return sum(values)


@app.activity_trigger(input_name="x")
def inc(x: int) -> int:
    return x + 1
