"""The meeting socket's generated documents, served next to the REST API's OpenAPI schema.

``/api/schema/socket/`` is the JSON Schema of the requests and ``/api/schema/asyncapi/`` the
AsyncAPI 3.0 document of the whole socket, both built from the route table
(`rtc.signaling.documents`) once per process: they describe the code that runs, so they
cannot drift from it. Public, like ``/api/schema/``: they hold nothing a client cannot see.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from rtc.signaling import documents

__all__ = ["asyncapi_view", "socket_schema_view"]


@cache
def _json_schema() -> dict[str, Any]:
    return documents.json_schema()


@cache
def _asyncapi() -> dict[str, Any]:
    return documents.asyncapi()


@require_GET
def socket_schema_view(request: HttpRequest) -> JsonResponse:
    """The JSON Schema of the meeting socket's requests."""
    return JsonResponse(_json_schema(), json_dumps_params={"ensure_ascii": False})


@require_GET
def asyncapi_view(request: HttpRequest) -> JsonResponse:
    """The AsyncAPI 3.0 document of the meeting socket."""
    return JsonResponse(_asyncapi(), json_dumps_params={"ensure_ascii": False})
