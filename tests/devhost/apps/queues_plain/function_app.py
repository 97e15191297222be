# mypy: disable-error-code="untyped-decorator"
"""Test function app for messageEncoding "none": the trigger gets the stored text as it is."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

PLAIN_QUEUE = "devhost-test-plain"
_BODIES: list[str] = []


@app.queue_trigger(arg_name="msg", queue_name=PLAIN_QUEUE, connection="AzureWebJobsStorage")
def record(msg: func.QueueMessage) -> None:
    _BODIES.append(msg.get_body().decode())


@app.route(route="bodies", methods=["GET"])
def bodies(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(_BODIES), mimetype="application/json")
