"""Azure Functions entry point: GDPR data-subject requests (export, delete) for Azure Custom Vision.

Only wiring lives here. HTTP and queue triggers are in ``triggers/``, Durable orchestrators in
``orchestrators/``, activities in ``activities/``; the domain code they call is in ``dsr/``.
"""

import azure.durable_functions as df
import azure.functions as func

from activities.dsr_activities import bp as activities
from orchestrators.dsr_request import bp as orchestrators
from triggers.api_description import bp as api_description
from triggers.http_api import bp as http_api
from triggers.queue_intake import bp as queue_intake
from triggers.retention_timer import bp as retention_timer

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (http_api, api_description, queue_intake, retention_timer, orchestrators, activities):
    app.register_functions(blueprint)
