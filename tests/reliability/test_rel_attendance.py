"""Attendance survives socket faults: a drop that resumes within the grace period writes nothing
(no left-then-joined), a peer whose grace expires is marked left then (not when its socket
dropped), and a second device does not end the first one's presence."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from meetings.models import Participant
from rtc.policy.attendance import attendance, peer_key
from tests.reliability.conftest import participant_row, wait_until


@database_sync_to_async
def meeting_has_row(meeting, user) -> bool:
    return Participant.objects.filter(meeting=meeting, user=user).exists()

pytestmark = pytest.mark.django_db(transaction=True)


async def test_resume_within_grace_leaves_attendance_untouched(rtc_service, rtc_client, meeting,
                                                               host_user, member_user,
                                                               settings):
    """Member drops and resumes its peer: its row keeps the first joined_at and no left_at,
    and the host hears of neither a leave nor a join; leaving for good then writes left_at."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 30}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join()
    joined = await member.join("Milo")
    first = await participant_row(meeting, member_user)
    assert first.joined_at is not None and first.left_at is None
    await host.drain()
    host.events.clear()

    await member.ws.disconnect()
    await wait_until(lambda: attendance.holders(meeting.id, member_user.pk)
                     == {peer_key(joined["peerId"])}, what="the grace peer holds attendance")
    during = await participant_row(meeting, member_user)
    assert during.left_at is None and during.joined_at == first.joined_at

    again = await rtc_client(meeting, member_user)
    resumed = await again.ok("rtc:join", {"displayName": "Milo", "resume": {
        "peerId": joined["peerId"], "token": joined["resumeToken"]}})
    assert resumed["resumed"] is True
    assert len(attendance.holders(meeting.id, member_user.pk)) == 1, "only the new socket"
    after = await participant_row(meeting, member_user)
    assert after.left_at is None and after.joined_at == first.joined_at
    await host.drain()
    pushed = [e["type"] for e in host.events]
    assert "meeting.participantLeft" not in pushed and "meeting.participantJoined" not in pushed
    assert host.saw("rtc:peerLeft") == []

    await again.ok("rtc:leave")
    await again.ws.disconnect()
    await wait_until(lambda: not attendance.present(meeting.id, member_user.pk))
    gone = await participant_row(meeting, member_user)
    assert gone.left_at is not None and gone.joined_at == first.joined_at
    left = await host.event("meeting.participantLeft")
    assert left["userId"] == member_user.pk


async def test_grace_expiry_marks_the_participant_left_then(rtc_service, rtc_client, meeting,
                                                            host_user, member_user, settings,
                                                            manual_clock):
    """A dropped peer that does not come back is marked left when its grace ends, not before;
    the host hears rtc:peerLeft and meeting.participantLeft once."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 30}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join()
    joined = await member.join()
    await member.ws.disconnect()
    await manual_clock.wait_scheduled()
    await manual_clock.advance(29.9)
    assert (await participant_row(meeting, member_user)).left_at is None, "still in grace"
    assert attendance.present(meeting.id, member_user.pk)
    await manual_clock.advance(0.1)
    left = await host.event("rtc:peerLeft", timeout=5)
    assert left == {"peerId": joined["peerId"], "reason": "disconnected"}
    await wait_until(lambda: not attendance.present(meeting.id, member_user.pk))
    # The leave is written right after the release, on the database thread (PostgreSQL may
    # take a moment): its event says when it is in.
    assert (await host.event("meeting.participantLeft"))["userId"] == member_user.pk
    row = await participant_row(meeting, member_user)
    assert row.left_at is not None and row.left_at >= row.joined_at
    await host.drain()
    assert host.saw("meeting.participantLeft") == [], "the leave is announced once"


async def test_second_device_keeps_the_user_present(rtc_service, rtc_client, meeting,
                                                    host_user, member_user):
    """The member on two sockets: closing one does not mark it left, closing both does."""
    laptop = await rtc_client(meeting, member_user)
    first = await participant_row(meeting, member_user)
    phone = await rtc_client(meeting, member_user)
    await laptop.join("laptop")
    await phone.join("phone")
    assert (await participant_row(meeting, member_user)).joined_at == first.joined_at, \
        "the second socket does not rewrite the join"
    await laptop.ws.disconnect()  # returns once the socket's task ended, its leave with it
    assert attendance.present(meeting.id, member_user.pk)
    assert (await participant_row(meeting, member_user)).left_at is None
    await phone.ws.disconnect()
    await wait_until(lambda: not attendance.present(meeting.id, member_user.pk))
    assert (await participant_row(meeting, member_user)).left_at is not None


async def test_refused_socket_holds_nothing(rtc_service, ws_communicator, ws_expect_close,
                                            meeting, outsider_user):
    """A socket refused by the meeting (not invited: 4403) leaves no attendance hold and no
    participant row behind."""
    communicator = await ws_communicator(meeting.id, user=outsider_user)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    assert await ws_expect_close(communicator) == 4403
    assert not attendance.present(meeting.id, outsider_user.pk)
    assert not await meeting_has_row(meeting, outsider_user)


async def test_resume_during_the_rejoin_check_leaves_no_grace_holder(
        rtc_service, rtc_client, meeting, host_user, member_user, settings, monkeypatch):
    """A socket drops and its peer is resumed on a new socket while the drop's rejoin check
    is still waiting for the database: the drop then starts no grace period, so nothing holds
    the user's attendance but the new socket, and leaving for good writes left_at."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 30}
    checking, answer = asyncio.Event(), asyncio.Event()

    async def slow_check(room, peer):
        checking.set()
        await answer.wait()
        return True

    monkeypatch.setattr(type(rtc_service), "_may_come_back", staticmethod(slow_check))
    member = await rtc_client(meeting, member_user)
    joined = await member.join("Milo")
    # The drop, without waiting for the consumer (it waits for the check below).
    await member.ws.send_input({"type": "websocket.disconnect", "code": 1006})
    await asyncio.wait_for(checking.wait(), 5)

    again = await rtc_client(meeting, member_user)
    resumed = await again.ok("rtc:join", {"displayName": "Milo", "resume": {
        "peerId": joined["peerId"], "token": joined["resumeToken"]}})
    assert resumed["resumed"] is True
    answer.set()
    await member.ws.wait(5)  # the dropped socket's consumer has finished
    assert peer_key(joined["peerId"]) not in attendance.holders(meeting.id, member_user.pk)
    room = rtc_service.rooms[str(meeting.id)]
    assert room.peers[joined["peerId"]].grace_task is None

    await again.ok("rtc:leave")
    await again.ws.disconnect()
    await wait_until(lambda: not attendance.present(meeting.id, member_user.pk))
    assert (await participant_row(meeting, member_user)).left_at is not None
