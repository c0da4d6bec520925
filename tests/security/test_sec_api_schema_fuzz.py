"""Schemathesis against the project's own OpenAPI schema (``/api/schema/``): no server error.

Every operation of the schema gets requests generated from it, both fitting the schema
(positive) and breaking it (negative: wrong types, missing fields, out-of-range values),
through the Django WSGI application, authenticated as the host of a meeting, as a plain
signed-in user, and as an integration's backend (``Bearer key:secret``). Half of the cases
name objects that exist (the meeting, its participants), so the requests reach the views and
services instead of stopping at a 404. Every response must be below 500, and every 4xx must be
JSON (``{"detail", "code"}``, or DRF's per-field errors), never a traceback or HTML.

Bounded (a few examples per operation and mode, deterministic) to stay well under a minute.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token

from integrations import services as integration_services
from meetings import services
from meetings.models import Meeting

# Transactional: the WSGI handler closes "old" connections around each request, which would
# break the test-wide transaction of a plain django_db test.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

EXAMPLES = 15
"""Examples per operation and generation mode (21 operations, 2 modes, 3 callers)."""
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@pytest.fixture
def api_schema() -> Any:
    """The schema as the running application serves it."""
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json",
                                          get_wsgi_application())


@pytest.fixture
def world(host_user: Any, member_user: Any, outsider_user: Any) -> dict[str, Any]:
    """A meeting hosted by the host with the member invited, an integration with a meeting
    of its own, and the Authorization header of each caller."""
    meeting = services.meeting_create(host=host_user, title="Fuzzed",
                                      access=Meeting.Access.INVITED)
    services.participant_invite(meeting=meeting, actor=host_user, username=member_user.username)
    integration, secret = integration_services.integration_create(name="Fuzz Inc",
                                                                   owner=outsider_user)
    owned = integration_services.meeting_create_for_integration(integration=integration,
                                                                title="Owned")
    return {
        "meetings": [str(meeting.id), str(owned.id)],
        "usernames": [host_user.username, member_user.username],
        "headers": {
            "host": f"Token {Token.objects.get_or_create(user=host_user)[0].key}",
            "user": f"Token {Token.objects.get_or_create(user=outsider_user)[0].key}",
            "integration": f"Bearer {integration.api_key}:{secret}",
        },
    }


def _aim_at_real_objects(case: Any, world: dict[str, Any], turn: int) -> None:
    """Every other case names the existing meeting (or the integration's) and a participant."""
    if turn % 2:
        return
    for name in ("id", "meeting_id"):
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = world["meetings"][(turn // 2) % 2]
    if "username" in (case.path_parameters or {}):
        case.path_parameters["username"] = world["usernames"][(turn // 2) % 2]


def _destroys_the_meeting(operation: Any) -> bool:
    """Deleting or ending the meeting goes last, so the other operations meet it alive."""
    path = operation.path
    return (operation.method.upper() == "DELETE" and path == "/api/meetings/{id}/") or \
        path.endswith("/end/")


def _check(response: Any, case: Any) -> None:
    label = f"{case.method} {case.formatted_path} -> {response.status_code}"
    assert response.status_code < 500, f"{label}: {response.text[:500]}"
    if 400 <= response.status_code < 500 and case.formatted_path.startswith("/api/"):
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/json"), label
        body = response.json()
        # {"detail", "code"} (application errors) or DRF's field errors {"field": [...]}.
        assert isinstance(body, dict) and body, (label, body)
        assert "Traceback" not in response.text and "/work/" not in response.text, label


@pytest.mark.parametrize("caller", ["host", "user", "integration"])
def test_no_operation_answers_a_server_error(api_schema: Any, world: dict[str, Any],
                                             caller: str) -> None:
    """Positive and negative cases of every operation, as this caller: no 5xx, 4xx in the
    API's error shape."""
    headers = {"Authorization": world["headers"][caller]}
    turns = itertools.count()
    operations = sorted((result.ok() for result in api_schema.get_all_operations()),
                        key=_destroys_the_meeting)
    assert len(operations) >= 20, "the schema lost operations"
    calls = 0
    for operation in operations:
        for mode in MODES:

            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                nonlocal calls
                _aim_at_real_objects(case, world, next(turns))
                response = case.call(headers=headers)
                calls += 1
                _check(response, case)

            run()
    assert calls >= len(operations) * len(MODES), calls


def test_unrouted_api_paths_answer_json_and_pages_stay_html(client: Any) -> None:
    """A malformed id under /api/ (no route matches) is a JSON 404 in the API's shape, not
    Django's HTML page; outside /api/ the HTML page stays."""
    response = client.get("/api/meetings/not-a-uuid/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    page = client.get("/no/such/page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
