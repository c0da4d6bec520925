"""The meeting WebSocket: refusals with distinct close codes, joining, and meeting events."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from meetings import services
from meetings.models import Meeting, Participant
from rtc.websocket.envelope import CloseCode

pytestmark = pytest.mark.django_db(transaction=True)


def _group_members(layer, meeting_id) -> set[str]:
    """Channels in the meeting's group (in-memory layer only; None under Redis)."""
    groups = getattr(layer, "groups", None)
    if groups is None:
        return None
    return set(groups.get(f"meeting.{meeting_id}", {}))


async def _refused_with(ws_communicator, ws_expect_close, meeting_id, **kwargs) -> int:
    communicator = await ws_communicator(meeting_id, **kwargs)
    connected, _ = await communicator.connect(timeout=5)
    assert connected, "the socket is accepted first so the close code reaches the client"
    return await ws_expect_close(communicator)


async def test_anonymous_connection_is_closed_with_4401(ws_communicator, ws_expect_close, meeting):
    """No session and no token: closed with 4401."""
    code = await _refused_with(ws_communicator, ws_expect_close, meeting.id, user=None)
    assert code == CloseCode.UNAUTHENTICATED


async def test_bad_token_is_closed_with_4401(ws_communicator, ws_expect_close, meeting):
    """An unknown `?token=` leaves the connection anonymous: 4401."""
    code = await _refused_with(ws_communicator, ws_expect_close, meeting.id, token="f" * 40)
    assert code == CloseCode.UNAUTHENTICATED


async def test_non_member_is_closed_with_4403(
    ws_communicator, ws_expect_close, meeting, outsider_user, channel_layer
):
    """A signed-in user who is not invited: 4403, no participant row, not in the group."""
    code = await _refused_with(ws_communicator, ws_expect_close, meeting.id, user=outsider_user)
    assert code == CloseCode.FORBIDDEN
    exists = await Participant.objects.filter(meeting=meeting, user=outsider_user).aexists()
    assert not exists
    assert _group_members(channel_layer, meeting.id) in (None, set())


async def test_unknown_meeting_is_closed_with_4404(ws_communicator, ws_expect_close, host_user):
    """A well-formed id of no meeting: 4404."""
    missing = "00000000-0000-4000-8000-000000000000"
    code = await _refused_with(ws_communicator, ws_expect_close, missing, user=host_user)
    assert code == CloseCode.NOT_FOUND


async def test_ended_meeting_is_closed_with_4410(
    ws_communicator, ws_expect_close, meeting, host_user
):
    """Joining an ended meeting: 4410."""
    await database_sync_to_async(services.meeting_end)(meeting=meeting, actor=host_user)
    code = await _refused_with(ws_communicator, ws_expect_close, meeting.id, user=host_user)
    assert code == CloseCode.MEETING_ENDED


async def test_full_meeting_is_closed_with_4409(
    ws_join, ws_communicator, ws_expect_close, open_meeting, host_user, outsider_user
):
    """With capacity 1 and the host present, a second user gets 4409."""
    await database_sync_to_async(services.meeting_update)(
        meeting=open_meeting, actor=host_user, capacity=1
    )
    await ws_join(open_meeting.id, host_user)
    code = await _refused_with(
        ws_communicator, ws_expect_close, open_meeting.id, user=outsider_user
    )
    assert code == 4409


async def test_foreign_origin_is_rejected(ws_communicator, meeting, host_user):
    """An Origin outside ALLOWED_HOSTS is rejected before the consumer runs."""
    communicator = await ws_communicator(meeting.id, user=host_user, origin="http://evil.example")
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
    present = await Participant.objects.filter(meeting=meeting, joined_at__isnull=False).aexists()
    assert not present


async def test_member_joins_gets_state_and_is_recorded(
    ws_communicator, meeting, member_user, channel_layer, monkeypatch
):
    """A member is accepted, gets a meeting.state snapshot, and is marked present then left;
    its close costs no extra trip through a database thread (Channels' own disconnect made
    one, `aclose_old_connections`, for every socket)."""
    from channels.generic import websocket as channels_websocket

    checks: list[None] = []

    async def counted() -> None:
        checks.append(None)

    monkeypatch.setattr(channels_websocket, "aclose_old_connections", counted)
    communicator = await ws_communicator(meeting.id, user=member_user)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    state = await communicator.receive_json_from(timeout=5)
    assert state["type"] == "meeting.state"
    assert state["data"]["meeting"]["id"] == str(meeting.id)
    assert [p["username"] for p in state["data"]["participants"]] == ["milo"]
    row = await Participant.objects.aget(meeting=meeting, user=member_user)
    assert row.joined_at is not None and row.left_at is None
    refreshed = await Meeting.objects.aget(pk=meeting.pk)
    assert refreshed.status == Meeting.Status.LIVE and refreshed.started_at is not None

    await communicator.disconnect()
    row = await Participant.objects.aget(meeting=meeting, user=member_user)
    assert row.left_at is not None and row.left_at >= row.joined_at
    assert _group_members(channel_layer, meeting.id) in (None, set())
    assert checks == []


async def test_session_cookie_authenticates(ws_join, ws_request, meeting, host_user):
    """A browser's session cookie is enough to join."""
    communicator = await ws_join(meeting.id, host_user, auth="session")
    reply = await ws_request(communicator, {"type": "ping", "requestId": "p1"})
    assert reply == {"requestId": "p1", "data": {"type": "pong"}}


async def test_open_meeting_admits_any_signed_in_user(ws_join, open_meeting, outsider_user):
    """Joining an open meeting creates the participant row as a member."""
    await ws_join(open_meeting.id, outsider_user)
    row = await Participant.objects.aget(meeting=open_meeting, user=outsider_user)
    assert row.role == "member" and row.is_present


async def test_join_and_leave_are_broadcast(
    ws_join, ws_receive_until, meeting, host_user, member_user
):
    """The host sees the member's participantJoined and participantLeft events."""
    host = await ws_join(meeting.id, host_user)
    member = await ws_join(meeting.id, member_user)
    joined = await ws_receive_until(host, "meeting.participantJoined")
    while joined["data"]["username"] != "milo":
        joined = await ws_receive_until(host, "meeting.participantJoined")
    assert joined["data"]["role"] == "member" and joined["data"]["joinedAt"]
    await member.disconnect()
    left = await ws_receive_until(host, "meeting.participantLeft")
    assert left["data"]["username"] == "milo" and left["data"]["leftAt"]


async def test_a_joiner_gets_others_joins_but_not_its_own(
    ws_join, ws_receive_until, meeting, host_user, member_user, outsider_user
):
    """The joining socket's snapshot lists it, so it gets no participantJoined for its own
    join; the sockets already there get it, and it gets the joins after its own."""
    await database_sync_to_async(services.participant_invite)(
        meeting=meeting, actor=host_user, username=outsider_user.username)
    host = await ws_join(meeting.id, host_user)
    member = await ws_join(meeting.id, member_user)
    joined = await ws_receive_until(host, "meeting.participantJoined")
    while joined["data"]["userId"] != member_user.pk:
        joined = await ws_receive_until(host, "meeting.participantJoined")
    third = await ws_join(meeting.id, outsider_user)
    seen = await ws_receive_until(member, "meeting.participantJoined")
    assert seen["data"]["userId"] == outsider_user.pk  # the first it gets is the next join's
    assert await member.receive_nothing(timeout=0.3)
    await third.disconnect()


async def test_update_is_broadcast(ws_join, ws_receive_until, meeting, host_user, member_user):
    """A title change through the service reaches connected members as meeting.updated."""
    member = await ws_join(meeting.id, member_user)
    await database_sync_to_async(services.meeting_update)(
        meeting=meeting, actor=host_user, title="New title"
    )
    updated = await ws_receive_until(member, "meeting.updated")
    while updated["data"]["title"] != "New title":
        updated = await ws_receive_until(member, "meeting.updated")
    assert updated["data"]["id"] == str(meeting.id)


async def test_end_is_broadcast_and_closes_sockets(
    ws_join, ws_receive_until, ws_expect_close, meeting, host_user, member_user, channel_layer
):
    """Ending the meeting sends meeting.ended to everyone, then closes with 4410."""
    host = await ws_join(meeting.id, host_user)
    member = await ws_join(meeting.id, member_user)
    await database_sync_to_async(services.meeting_end)(meeting=meeting, actor=host_user)
    for communicator in (host, member):
        ended = await ws_receive_until(communicator, "meeting.ended")
        assert ended["data"]["status"] == "ended"
        assert await ws_expect_close(communicator) == CloseCode.MEETING_ENDED
    assert _group_members(channel_layer, meeting.id) in (None, set())
    present = await Participant.objects.filter(
        meeting=meeting, left_at__isnull=True, joined_at__isnull=False
    ).aexists()
    assert not present


async def test_removed_participant_is_disconnected(
    ws_join, ws_receive_until, ws_expect_close, ws_request, meeting, host_user, member_user
):
    """Removing a connected member closes their socket with 4403; the host stays."""
    host = await ws_join(meeting.id, host_user)
    member = await ws_join(meeting.id, member_user)
    await database_sync_to_async(services.participant_remove)(
        meeting=meeting, actor=host_user, username="milo"
    )
    removed = await ws_receive_until(member, "meeting.participantRemoved")
    assert removed["data"]["username"] == "milo"
    assert await ws_expect_close(member) == CloseCode.FORBIDDEN
    seen = await ws_receive_until(host, "meeting.participantRemoved")
    assert seen["data"]["userId"] == member_user.pk
    reply = await ws_request(host, {"type": "ping", "requestId": "still-here"})
    assert reply["data"] == {"type": "pong"}
