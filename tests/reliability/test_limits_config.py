"""Limits come from the environment: every ``RTC_*`` variable reaches ``settings.RTC_LIMITS`` and
the limits the service applies, a typo fails at start-up, and the frame-size limit is honoured
by the meeting socket."""

from __future__ import annotations

import json

import pytest

from tests.support.settings_probe import run_probe

PROBE = """
import json, django
django.setup()
from django.conf import settings
from rtc.services.config import limits
from rtc.websocket.envelope import max_message_chars
l = limits()
print(json.dumps({"raw": settings.RTC_LIMITS, "frame": max_message_chars(),
                  "peers": l.max_peers_per_meeting, "rate": l.requests_per_second,
                  "grace": l.reconnect_grace_seconds, "rooms": l.max_rooms_per_worker,
                  "deadline": l.transport_connect_timeout_seconds}))
"""


def test_rtc_environment_variables_set_the_limits() -> None:
    """RTC_* variables become the limits RoomService applies; unset ones keep the defaults."""
    result = run_probe(PROBE, RTC_MAX_PEERS_PER_MEETING="7", RTC_REQUESTS_PER_SECOND="9",
                            RTC_RECONNECT_GRACE_SECONDS="0", RTC_MAX_MESSAGE_CHARS="2048")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["raw"] == {"MAX_PEERS_PER_MEETING": 7, "REQUESTS_PER_SECOND": 9,
                           "RECONNECT_GRACE_SECONDS": 0}
    assert (seen["peers"], seen["rate"], seen["grace"], seen["frame"]) == (7, 9, 0, 2048)
    assert (seen["rooms"], seen["deadline"]) == (500, 30.0), "unset limits keep their defaults"


def test_no_rtc_environment_means_the_defaults() -> None:
    """With no RTC_* variable the settings carry no override at all."""
    result = run_probe(PROBE)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["raw"] == {} and seen["peers"] == 100 and seen["frame"] == 65536


@pytest.mark.parametrize("env", [
    {"RTC_MAX_PEERS_PER_MEETING": "many"},
    {"RTC_MAX_PEERS_PER_MEETING": "0"},
    {"RTC_REQUESTS_PER_SECOND": "-1"},
    {"RTC_MAX_MESSAGE_CHARS": "10"},
])
def test_bad_rtc_values_fail_at_start_up(env: dict[str, str]) -> None:
    """A malformed or out-of-range value stops the process with ImproperlyConfigured."""
    result = run_probe(PROBE, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and next(iter(env)) in result.stderr


@pytest.mark.django_db(transaction=True)
async def test_frame_limit_setting_is_enforced_by_the_socket(ws_join, ws_request, meeting,
                                                             member_user, settings) -> None:
    """A frame one character over RTC_MAX_MESSAGE_CHARS gets `invalid`; one at it is served."""
    settings.RTC_MAX_MESSAGE_CHARS = 2048
    ws = await ws_join(meeting.id, member_user)
    base = {"type": "ping", "requestId": "p", "data": {"pad": ""}}
    pad = 2048 - len(json.dumps(base))
    base["data"]["pad"] = "x" * pad
    reply = await ws_request(ws, base)
    assert reply == {"requestId": "p", "data": {"type": "pong"}}
    base["data"]["pad"] += "x"
    await ws.send_to(text_data=json.dumps(base))
    reply = await ws.receive_json_from(timeout=5)
    while "type" in reply:
        reply = await ws.receive_json_from(timeout=5)
    assert reply["code"] == "invalid" and "too large" in reply["error"]
    assert (await ws_request(ws, {"type": "ping", "requestId": "q"}))["data"]["type"] == "pong"
