"""``GET /api/openapi.json``: the API's OpenAPI 2.0 description, for Logic Apps / Power Automate
custom connectors. Behind the function key like every route (import from ``...?code=<key>``)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func

from triggers.responses import json_response

bp = df.Blueprint()

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")


@lru_cache(maxsize=1)
def api_document() -> dict[str, Any]:
    """The checked-in description (``triggers/openapi.json``)."""
    document: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return document


@bp.route(route="openapi.json", methods=["GET"])
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """The description with ``host`` and ``schemes`` of the app that serves it, ready to import."""
    parts = urlsplit(req.url)
    return json_response({**api_document(), "host": parts.netloc, "schemes": [parts.scheme]}, 200)
