"""Meeting sockets that join together are written together (`rtc.websocket.join._joins`): a
burst of sockets takes a few batches, not a trip each, and every socket still gets its own
outcome: its ``meeting.state``, its refusal, its lobby wait."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from conference.errors import ErrorCode
from meetings import joins, services
from meetings.models import Meeting, Participant
from rtc.websocket.envelope import close_code_for

pytestmark = pytest.mark.django_db(transaction=True)

WS_TIMEOUT = 10


@pytest.fixture
def batch_sizes(monkeypatch) -> list[int]:
    """The size of every batch of joins written (the writes are still made)."""
    sizes: list[int] = []
    real = joins.participants_join

    def counting(requests):
        sizes.append(len(requests))
        return real(requests)

    monkeypatch.setattr(joins, "participants_join", counting)
    return sizes


async def _open(ws_communicator, meeting_id: Any, user: Any) -> tuple[Any, dict[str, Any]]:
    socket_ = await ws_communicator(meeting_id, user=user)
    connected, _ = await socket_.connect(timeout=WS_TIMEOUT)
    assert connected
    return socket_, await socket_.receive_output(timeout=WS_TIMEOUT)


async def test_a_burst_of_sockets_joins_in_batches_each_with_its_outcome(
        ws_communicator, host_user, make_user, batch_sizes):
    """Thirteen sockets at once: the host, ten invited users and an outsider on an invited-only
    meeting of capacity 10, and the outsider again on a lobby meeting. Ten get in, in fewer
    batches than sockets; the outsider is refused as forbidden, the one beyond capacity as
    full, and waits in the other meeting's lobby; the rows say who is present, and the last
    in lists all ten in its snapshot."""
    people = await database_sync_to_async(lambda: [make_user(f"b{i}") for i in range(10)])()
    outsider = await database_sync_to_async(make_user)("stranger")

    def create() -> Meeting:
        meeting = services.meeting_create(host=host_user, title="On the hour", capacity=10)
        for person in people:
            services.participant_invite(meeting=meeting, actor=host_user,
                                        username=person.username)
        return meeting

    meeting = await database_sync_to_async(create)()
    lobby = await database_sync_to_async(services.meeting_create)(
        host=host_user, title="Ask first", access=Meeting.Access.LOBBY)
    users = [host_user, *people, outsider]
    opened = await asyncio.gather(*(_open(ws_communicator, meeting.id, u) for u in users),
                                  _open(ws_communicator, lobby.id, outsider))
    waiting = json.loads(opened.pop()[1]["text"])
    assert waiting == {"type": "lobby:waiting", "data": {"displayName": "stranger"}}
    outputs = [output for _, output in opened]
    states = [json.loads(o["text"]) for o in outputs if o["type"] == "websocket.send"]
    closes = [o["code"] for o in outputs if o["type"] == "websocket.close"]
    assert len(states) == 10 and all(s["type"] == "meeting.state" for s in states)
    assert sorted(closes) == sorted([int(close_code_for(ErrorCode.FORBIDDEN)),
                                     int(close_code_for(ErrorCode.FULL))])
    assert sum(batch_sizes) == len(users) + 1 and len(batch_sizes) < len(users)
    present = await database_sync_to_async(lambda: set(Participant.objects.filter(
        meeting=meeting, joined_at__isnull=False, left_at__isnull=True
    ).values_list("user__username", flat=True)))()
    assert len(present) == 10 and "stranger" not in present
    assert max(len(s["data"]["participants"]) for s in states) == 10


async def test_a_lobby_entry_that_cannot_be_written_is_that_sockets_refusal(
        ws_communicator, host_user, make_user, monkeypatch):
    """The batch sent a socket to the lobby but its entry cannot be written (the database
    went away): that socket is told ``unavailable`` and closed with 4502, holding nothing;
    a socket joining another meeting at the same moment gets in."""
    from django.db import OperationalError

    from rtc.policy.attendance import attendance
    from rtc.websocket.lobby import SocketLobby

    guest, member = await database_sync_to_async(
        lambda: [make_user("guest"), make_user("member")])()
    waiting_room = await database_sync_to_async(services.meeting_create)(
        host=host_user, title="Ask first", access=Meeting.Access.LOBBY)
    open_room = await database_sync_to_async(services.meeting_create)(
        host=host_user, title="Come in", access=Meeting.Access.AUTHENTICATED)

    def down(self, meeting):
        raise OperationalError("connection failed: Connection refused")

    monkeypatch.setattr(SocketLobby, "check", down)
    (refused, first), (joined, state) = await asyncio.gather(
        _open(ws_communicator, waiting_room.id, guest),
        _open(ws_communicator, open_room.id, member))
    assert json.loads(first["text"])["data"]["code"] == "unavailable"
    assert (await refused.receive_output(timeout=WS_TIMEOUT))["code"] == 4502
    assert not attendance.present(waiting_room.id, guest.pk)
    assert json.loads(state["text"])["type"] == "meeting.state"
    assert attendance.present(open_room.id, member.pk)
