"""The meeting socket's one rate limit (`rtc.websocket.rate.SocketRate`, owned by the socket's
`rtc.websocket.session.SocketSession`): frames of any kind against a budget of twice the request
rate and burst, route requests against the rate and burst themselves, a flood cut off after a
whole frame burst of refusals. Time is a `conference.clock.ManualClock`: nothing sleeps."""

from __future__ import annotations

import json

import pytest

from conference.clock import ManualClock
from rtc.signaling.routes import ROUTES
from rtc.websocket.envelope import CloseCode, registry
from rtc.websocket.rate import FrameVerdict, RateConfig, SocketRate
from rtc.websocket.session import SocketSession

SERVE, REFUSE, CUT_OFF = FrameVerdict.SERVE, FrameVerdict.REFUSE, FrameVerdict.CUT_OFF


def _rate(clock: ManualClock, *, rate: float = 1.0, burst: int = 2) -> SocketRate:
    return SocketRate(lambda: RateConfig(requests_per_second=rate, request_burst=burst),
                      clock=clock)


async def test_frames_get_twice_the_burst_then_a_flood_is_cut_off() -> None:
    """Burst 2: four frames are served, the next four refused, the fifth refusal in a row
    (a whole frame burst refused, and more) cuts the socket off, and it stays cut off."""
    rate = _rate(ManualClock())
    verdicts = [rate.take_frame() for _ in range(9)]
    assert verdicts == [SERVE] * 4 + [REFUSE] * 4 + [CUT_OFF]
    assert rate.flooded
    assert rate.take_frame() is CUT_OFF, "a cut-off socket is not served again"


async def test_requests_get_the_burst_and_refill_at_the_rate() -> None:
    """Route requests: the burst at once, then one per 1/rate seconds (not before), and a long
    idle refills to the burst, no further. Requests and frames are separate budgets."""
    clock = ManualClock()
    rate = _rate(clock, rate=10.0, burst=2)
    assert [rate.take_request() for _ in range(3)] == [True, True, False]
    assert rate.take_frame() is SERVE, "a refused request leaves the frame budget alone"
    await clock.advance(0.099)
    assert not rate.take_request()
    await clock.advance(0.002)
    assert rate.take_request()
    await clock.advance(3600)
    assert [rate.take_request() for _ in range(3)] == [True, True, False]


async def test_a_client_that_slows_down_starts_its_refusals_again() -> None:
    """Refused three times, then served after the bucket refilled: the count of refusals in a
    row starts again, so it takes another whole burst of refusals to be cut off."""
    clock = ManualClock()
    rate = _rate(clock, rate=1.0, burst=2)
    assert [rate.take_frame() for _ in range(7)] == [SERVE] * 4 + [REFUSE] * 3
    await clock.advance(0.5)  # one frame token (2 frames a second)
    assert rate.take_frame() is SERVE
    assert [rate.take_frame() for _ in range(5)] == [REFUSE] * 4 + [CUT_OFF]


async def test_the_process_clock_and_changed_settings_reach_an_open_socket(
        manual_clock: ManualClock, settings) -> None:
    """Without a clock of its own the limiter reads the process's (`use_clock`), and reads
    RTC_REQUESTS_PER_SECOND / RTC_REQUEST_BURST at each take: lowering the burst clamps a
    full bucket at once."""
    settings.RTC_LIMITS = {"REQUEST_BURST": 10, "REQUESTS_PER_SECOND": 1}
    rate = SocketRate()
    assert rate.take_request()
    settings.RTC_LIMITS = {"REQUEST_BURST": 1, "REQUESTS_PER_SECOND": 1}
    assert [rate.take_request() for _ in range(2)] == [True, False]
    await manual_clock.advance(1)
    assert rate.take_request()


def test_every_route_and_no_builtin_counts_against_the_request_budget() -> None:
    """Each declared route (rtc:*, chat:*, lobby:*, ...) is registered rate-limited; the
    built-in ``ping`` and ``meeting:state`` count as frames only."""
    assert ROUTES and all(registry.rate_limited(name) for name in ROUTES)
    assert not registry.rate_limited("ping") and not registry.rate_limited("meeting:state")


def test_the_session_owns_one_limiter() -> None:
    """The socket's session holds its one limiter; no process-wide table of buckets."""
    session = SocketSession(conn=None)  # type: ignore[arg-type]
    assert isinstance(session.rate, SocketRate) and not session.flooded


async def _reply(ws, request_id: str) -> dict:
    while True:
        message = await ws.receive_json_from(timeout=5)
        if message.get("requestId") == request_id:
            return message


@pytest.mark.django_db(transaction=True)
async def test_a_live_socket_is_limited_then_cut_off(ws_join, meeting, member_user, settings,
                                                     manual_clock):
    """Over a real meeting socket (burst 2, rate 1, frames 4 and 2/s, the clock standing
    still): two chat:history are served and the third gets `limit` with its requestId; a ping
    still gets its pong (frames only); the next ping gets `limit` (the frame budget); one
    second later both budgets hold tokens again; a flood is then refused and closed 4429."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "REQUEST_BURST": 2, "REQUESTS_PER_SECOND": 1}
    ws = await ws_join(meeting.id, member_user)
    replies = []
    for request_id, kind in [("h1", "chat:history"), ("h2", "chat:history"),
                             ("h3", "chat:history"), ("p1", "ping"), ("p2", "ping")]:
        await ws.send_json_to({"type": kind, "requestId": request_id})
        replies.append(await _reply(ws, request_id))
    assert [r.get("code") for r in replies] == [None, None, "limit", None, "limit"], replies
    assert replies[2] == {"requestId": "h3", "error": "too many requests, slow down",
                          "code": "limit"}
    assert replies[3]["data"] == {"type": "pong"}
    assert replies[4] == {"requestId": "p2", "error": "Too many messages, slow down.",
                          "code": "limit"}
    await manual_clock.advance(1)
    await ws.send_json_to({"type": "chat:history", "requestId": "h4"})
    assert "messages" in (await _reply(ws, "h4"))["data"]
    for index in range(10):
        await ws.send_to(text_data=json.dumps({"type": "ping", "requestId": f"f{index}"}))
    refused = []
    while True:
        output = await ws.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            break
        refused.append(json.loads(output["text"]))
    assert output["code"] == CloseCode.TOO_MANY_REQUESTS
    assert [r["requestId"] for r in refused if r.get("code") == "limit"] == [
        "f1", "f2", "f3", "f4"], refused
    await ws.disconnect()
