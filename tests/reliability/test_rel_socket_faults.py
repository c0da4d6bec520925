"""Clients that misbehave on the socket are cut off by limits, not by luck: a transport whose
DTLS never arrives is closed at its deadline, a client flooding frames (valid or not) is refused
and then disconnected with 4429 and its peer released at once, and a client that slows down
after being refused is served again. Nobody else's call is touched.

(Drop-and-resume within the grace period and release past it are shown by
``tests/rtc/test_rtc_lifecycle.py``; attendance across them by ``test_rel_attendance.py``.)
"""

from __future__ import annotations

import json

import pytest

from rtc.websocket.envelope import CloseCode
from tests.reliability.conftest import participant_row, wait_until
from tests.rtc.conftest import DTLS_PARAMETERS
from tests.support.rtc_client import join_both

pytestmark = pytest.mark.django_db(transaction=True)


async def _burst(client, frames: list[str]) -> list[dict]:
    """Send every frame at once, then collect replies until the socket closes or goes quiet."""
    for frame in frames:
        await client.ws.send_to(text_data=frame)
    replies = []
    while not await client.ws.receive_nothing(timeout=0.5):
        output = await client.ws.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            replies.append({"closed": output.get("code")})
            break
        message = json.loads(output["text"])
        if "type" not in message:
            replies.append(message)
    return replies


async def test_transport_whose_dtls_never_arrives_is_closed(rtc_service, rtc_client, meeting,
                                                            host_user, member_user, settings,
                                                            manual_clock):
    """The member sends connectTransport (a DTLS fingerprint) but no ICE or DTLS ever follows:
    at the deadline the transport is closed with reason connect_timeout, its producer with it,
    the host is told, and the worker's router no longer has the transport. (A transport that
    never even got connectTransport: tests/rtc/test_rtc_lifecycle.py.)"""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "TRANSPORT_CONNECT_TIMEOUT_SECONDS": 10}
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    send = await member.transport("send", connect=False)
    await member.ok("rtc:connectTransport", {"transportId": send,
                                             "dtlsParameters": DTLS_PARAMETERS})
    producer = await member.produce(send, "audio")
    await manual_clock.advance(10)
    closed = await member.event("rtc:transportClosed", timeout=5)
    assert closed == {"transportId": send, "reason": "connect_timeout"}
    assert (await host.event("rtc:producerClosed"))["producerId"] == producer
    room = rtc_service.rooms[str(meeting.id)]
    assert send not in (await room.router.dump())["transportIds"]
    assert rtc_service.counts()["transports"] == 0
    assert (await member.ok("ping"))["type"] == "pong", "the socket itself stays"


async def test_flooding_client_is_refused_then_cut_off(rtc_service, rtc_client, meeting,
                                                       host_user, member_user, settings):
    """Burst 5, rate 1/s (frames: 10, 2/s). The member fires 40 pings: 10 are answered, then
    each further one gets `limit` with its requestId until another whole frame burst was
    refused; then the socket is closed with 4429 and, despite a long grace period, its peer is
    released at once (the host hears rtc:peerLeft) and the member is marked left. The host's
    call is untouched."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "REQUEST_BURST": 5, "REQUESTS_PER_SECOND": 1,
                           "RECONNECT_GRACE_SECONDS": 60}
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    joined = member.joined
    host_send = await host.transport("send")
    host_producer = await host.produce(host_send, "audio")
    frames = [json.dumps({"type": "ping", "requestId": f"f{i}"}) for i in range(40)]
    replies = await _burst(member, frames)
    answered = [r for r in replies if r.get("data") == {"type": "pong"}]
    refused = [r for r in replies if r.get("code") == "limit"]
    assert 8 <= len(answered) <= 11, replies  # 9 left after join: the bucket refills a bit
    assert 9 <= len(refused) <= 11 and all(r["requestId"].startswith("f") for r in refused)
    assert replies[-1] == {"closed": CloseCode.TOO_MANY_REQUESTS}
    left = await host.event("rtc:peerLeft")
    assert left == {"peerId": joined["peerId"], "reason": "disconnected"}
    await wait_until(lambda: rtc_service.counts()["peers"] == 1)
    assert (await participant_row(meeting, member_user)).left_at is not None
    room = rtc_service.rooms[str(meeting.id)]
    assert host_producer in room.producer_owner
    assert (await host.ok("ping"))["type"] == "pong"


async def test_garbage_floods_count_too(rtc_service, rtc_client, meeting, member_user,
                                        settings):
    """Malformed JSON, binary and oversize frames use the same budget: a flood of them ends
    with the socket closed (4429)."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "REQUEST_BURST": 3, "REQUESTS_PER_SECOND": 1}
    member = await rtc_client(meeting, member_user)
    for _ in range(4):
        await member.ws.send_to(bytes_data=b"\x00" * 10)
    replies = await _burst(member, ["{not json"] * 10 + ["x" * 70_000] * 10)
    codes = [r.get("code") for r in replies if "code" in r]
    assert set(codes) <= {"invalid", "limit"} and "limit" not in codes[:2]
    assert replies[-1] == {"closed": CloseCode.TOO_MANY_REQUESTS}


async def test_client_that_slows_down_is_served_again(rtc_service, rtc_client, meeting,
                                                      member_user, settings, manual_clock):
    """A client refused for a moment and then waiting for its bucket to refill is served again
    and never cut off: the limit is a rate, not a ban."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "REQUEST_BURST": 3, "REQUESTS_PER_SECOND": 10}
    member = await rtc_client(meeting, member_user)
    await member.join()
    codes = [(await member.request("rtc:getStats", {"transportId": "nope"}))["code"]
             for _ in range(4)]
    assert codes[:2] == ["not_found", "not_found"] and "limit" in codes[2:]
    await manual_clock.advance(0.5)
    assert await member.fail("rtc:getStats", {"transportId": "nope"}) == "not_found"
    assert (await member.ok("ping"))["type"] == "pong"


async def test_absurdly_nested_json_is_invalid_not_a_crash(rtc_service, rtc_client, meeting,
                                                           member_user):
    """60,000 nested arrays (under the size limit, over Python's recursion limit) get
    `invalid`; the socket goes on."""
    member = await rtc_client(meeting, member_user)
    replies = await _burst(member, ["[" * 30_000 + "]" * 30_000,
                                    '{"type":"ping","requestId":"after"}'])
    assert replies[0]["code"] == "invalid" and "requestId" not in replies[0]
    assert replies[1] == {"requestId": "after", "data": {"type": "pong"}}
