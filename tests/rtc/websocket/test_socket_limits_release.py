"""Every way a meeting socket ends gives its slot in the socket counts back, exactly once.

Each test runs with ``MAX_SOCKETS_PER_USER`` 1 and repeats its way of ending: a slot that was
not given back would refuse the user's next socket, and one given back twice would drive the
counts below zero (the fixture of ``conftest.py`` also checks that nothing is counted after
each test). Covered: the client's close (1000, 1006, 4000), refusals after the accept (4403,
4404, 4409, 4410), a refusal for the limit itself, the flood cut-off (4429), the meeting
ended or the user removed while connected, the server shutting down (4503), an exception in
``connect``, and the socket's task cancelled without a disconnect.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from meetings import joins, services
from meetings.models import Participant
from rtc.lifecycle import shutdown
from rtc.policy.attendance import attendance
from rtc.websocket.envelope import CloseCode
from rtc.websocket.limits import open_sockets

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 3
ORIGIN = b"http://localhost"


@pytest.fixture(autouse=True)
def one_socket_per_user(settings) -> None:
    """A leaked slot shows at once: the user's next socket would be refused."""
    settings.RTC_LIMITS = {"MAX_SOCKETS_PER_USER": 1}


def _counted() -> tuple[int, dict, dict]:
    counts = open_sockets.counts()
    return counts.total, dict(counts.per_user), dict(counts.per_address)


async def _joined(ws_open, meeting_id, user, **kwargs):
    ws, first = await ws_open(meeting_id, user, **kwargs)
    assert first["type"] == "meeting.state", first
    return ws


async def _closed_with(ws) -> int:
    """Read until the server's close; its code."""
    while True:
        output = await ws.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]


async def test_client_close_and_drop_give_the_slot_back(ws_open, meeting, member_user):
    """Closed by the client with 1000, dropped (1006) or replaced (4000), again and again:
    afterwards nothing is counted and the next socket is accepted."""
    for _ in range(ROUNDS):
        for code in (1000, 1006, 4000):
            ws = await _joined(ws_open, meeting.id, member_user)
            assert _counted() == (1, {str(member_user.pk): 1}, {"203.0.113.7": 1})
            await ws.disconnect(code=code)
            assert _counted() == (0, {}, {})


async def test_refusals_after_the_accept_give_the_slot_back(ws_open, meeting, open_meeting,
                                                            host_user, member_user,
                                                            outsider_user):
    """Not invited (4403), no such meeting (4404), full (4409), ended (4410): each socket held
    a slot while its join was checked and gave it back when it was closed, before the client
    even answered the close. (The member fills the open meeting, capacity 1.)"""
    await database_sync_to_async(services.meeting_update)(
        meeting=open_meeting, actor=host_user, capacity=1)
    filler = await _joined(ws_open, open_meeting.id, member_user)
    ended = await database_sync_to_async(services.meeting_create)(host=host_user, title="Over")
    await database_sync_to_async(services.meeting_end)(meeting=ended, actor=host_user)
    cases = [(meeting.id, outsider_user, CloseCode.FORBIDDEN),
             ("00000000-0000-4000-8000-000000000000", outsider_user, CloseCode.NOT_FOUND),
             (open_meeting.id, outsider_user, CloseCode.FULL),
             (ended.id, host_user, CloseCode.MEETING_ENDED)]
    for _ in range(ROUNDS):
        for meeting_id, user, code in cases:
            ws, first = await ws_open(meeting_id, user)
            assert first == {"type": "websocket.close", "code": code}, (code, first)
            assert _counted() == (1, {str(member_user.pk): 1}, {"203.0.113.7": 1})
            await ws.disconnect()
    await filler.disconnect()
    assert _counted() == (0, {}, {})


async def test_refusal_for_the_limit_counts_nothing(ws_open, ws_expect_close, meeting,
                                                    member_user):
    """Sockets refused because the user is at its limit take no slot and give none back: the
    one open socket stays the only one counted, and its close leaves nothing."""
    held = await _joined(ws_open, meeting.id, member_user)
    for _ in range(ROUNDS * 2):
        ws, first = await ws_open(meeting.id, member_user)
        assert first["data"]["code"] == "too_many_sockets"
        assert await ws_expect_close(ws) == CloseCode.TOO_MANY_SOCKETS
        await ws.disconnect()
        assert open_sockets.of_user(member_user.pk) == 1
    await held.disconnect()
    assert _counted() == (0, {}, {})


async def test_flood_cut_off_gives_the_slot_back(ws_open, meeting, member_user, settings):
    """Frame burst 4 (request burst 2): twenty pings at once get the socket closed with 4429;
    its slot is free as soon as it is closed, and the next socket is accepted."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "REQUEST_BURST": 2, "REQUESTS_PER_SECOND": 1}
    for _ in range(ROUNDS):
        ws = await _joined(ws_open, meeting.id, member_user)
        for index in range(20):
            await ws.send_to(text_data=json.dumps({"type": "ping", "requestId": f"f{index}"}))
        assert await _closed_with(ws) == CloseCode.TOO_MANY_REQUESTS
        assert _counted() == (0, {}, {})
        await ws.disconnect()


async def test_meeting_end_and_removal_give_the_slots_back(ws_open, meeting, host_user,
                                                           member_user):
    """Removed by the host (4403) only the member's slot goes; the meeting ended (4410), the
    host's goes too."""
    host = await _joined(ws_open, meeting.id, host_user)
    member = await _joined(ws_open, meeting.id, member_user)
    await database_sync_to_async(services.participant_remove)(
        meeting=meeting, actor=host_user, username=member_user.username)
    assert await _closed_with(member) == CloseCode.FORBIDDEN
    assert _counted()[1] == {str(host_user.pk): 1}
    await database_sync_to_async(services.meeting_end)(meeting=meeting, actor=host_user)
    assert await _closed_with(host) == CloseCode.MEETING_ENDED
    assert _counted() == (0, {}, {})


async def test_server_shutdown_gives_every_slot_back(ws_open, meeting, open_meeting, host_user,
                                                     member_user, outsider_user):
    """The server stops: every socket is closed with 4503 and nothing stays counted; a socket
    that arrives meanwhile is refused with 4503 without taking a slot."""
    sockets = [await _joined(ws_open, meeting.id, host_user),
               await _joined(ws_open, meeting.id, member_user, address="198.51.100.1"),
               await _joined(ws_open, open_meeting.id, outsider_user, address=None)]
    assert _counted()[0] == 3
    assert await shutdown.shutdown() == {"sockets": 3, "peers": 0}
    for ws in sockets:
        assert await _closed_with(ws) == CloseCode.SHUTTING_DOWN
    assert _counted() == (0, {}, {})
    late, first = await ws_open(open_meeting.id, outsider_user)
    assert first == {"type": "websocket.close", "code": CloseCode.SHUTTING_DOWN}
    assert _counted() == (0, {}, {})
    for ws in sockets:
        await ws.disconnect()


async def test_exception_in_connect_gives_the_slot_and_the_presence_back(
        ws_communicator, ws_open, open_meeting, outsider_user, channel_layer, monkeypatch):
    """The join's database trip fails unexpectedly: the client is told (an ``error`` event
    ``server_busy`` with a retry hint, then close 4529, never a 1011), its slot is free, it
    left the meeting's group, it holds no presence, and the join was undone as a leave; the
    next socket is accepted."""

    join = joins.participants_join

    def broken_join(requests):
        join(requests)  # the join is written...
        raise RuntimeError("database went away")  # ...and then the trip fails

    monkeypatch.setattr(joins, "participants_join", broken_join)
    for _ in range(ROUNDS):
        ws = await ws_communicator(open_meeting.id, user=outsider_user)
        ws.scope["client"] = ("203.0.113.7", 50000)
        connected, _ = await ws.connect(timeout=5)
        assert connected
        event = await ws.receive_json_from(timeout=5)
        assert event["type"] == "error" and event["data"]["code"] == "server_busy", event
        assert 1 <= event["data"]["retryAfter"] <= 4
        assert await _closed_with(ws) == CloseCode.BUSY
        assert _counted() == (0, {}, {})
        assert not attendance.present(open_meeting.id, outsider_user.pk)
        groups = getattr(channel_layer, "groups", None)
        assert groups is None or not groups.get(f"meeting.{open_meeting.id}")
    row = await Participant.objects.aget(meeting=open_meeting, user=outsider_user)
    assert row.left_at is not None
    monkeypatch.undo()
    await _joined(ws_open, open_meeting.id, outsider_user)


async def test_cancelled_task_gives_the_slot_and_the_presence_back(ws_open, open_meeting,
                                                                   outsider_user):
    """The server gives up on a socket's task (cancels it) without delivering its disconnect:
    the slot is free, the presence gone and written as a leave; the next socket is accepted.
    (Communicators made here, not by ``ws_communicator``, whose teardown would disconnect the
    cancelled ones.)"""
    from conference.asgi import application

    token, _ = await Token.objects.aget_or_create(user=outsider_user)
    for _ in range(ROUNDS):
        ws = WebsocketCommunicator(application, f"/ws/meetings/{open_meeting.id}/?token={token}",
                                   headers=[(b"host", b"localhost"), (b"origin", ORIGIN)])
        ws.scope["client"] = ("203.0.113.7", 50000)
        assert (await ws.connect(timeout=5))[0]
        assert (await ws.receive_json_from(timeout=5))["type"] == "meeting.state"
        assert _counted()[0] == 1
        ws.future.cancel()
        await asyncio.wait([ws.future], timeout=5)
        assert ws.future.cancelled()
        assert _counted() == (0, {}, {})
        assert not attendance.present(open_meeting.id, outsider_user.pk)
        row = await Participant.objects.aget(meeting=open_meeting, user=outsider_user)
        assert row.left_at is not None
    await _joined(ws_open, open_meeting.id, outsider_user)
