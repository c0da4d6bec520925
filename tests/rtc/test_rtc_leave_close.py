"""Leaving and closing: a socket that says ``rtc:leave`` and closes ends its peer at once.

The call page sends ``rtc:leave`` and closes its socket right after (at once when the page
unloads). Its peer must then go now, with reason ``left``, and its attendance be written, not
after the reconnect grace a dropped socket gets (30 s here). A socket that drops without a
leave, or that joined again after leaving, still gets the grace.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from meetings.models import Participant
from rtc.policy.attendance import attendance, peer_key
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

GRACE = 30
"""Long enough that anything done within a test's few seconds was not the grace expiring."""


@database_sync_to_async
def _left_at(meeting, user):
    return Participant.objects.get(meeting=meeting, user=user).left_at


async def _gone_at_once(rtc_service, host, meeting, user, peer_id: str) -> None:
    """The peer left with reason ``left`` (not ``disconnected``), nothing holds the user's
    attendance and its row has left_at, all well inside the grace period."""
    async with asyncio.timeout(5):
        left = await host.event("rtc:peerLeft", peerId=peer_id)
    assert left == {"peerId": peer_id, "reason": "left"}
    assert rtc_service.counts()["peers"] == 1, "only the host's peer is left"
    await eventually(lambda: not attendance.present(meeting.id, user.pk), timeout=5,
                     what="the user's attendance released")
    assert await _left_at(meeting, user) is not None
    assert (await host.event("meeting.participantLeft"))["userId"] == user.pk


async def _host_leaves(host) -> None:
    """The host leaves the same way; afterwards nothing holds anyone's attendance."""
    await host.ws.send_json_to({"type": "rtc:leave", "requestId": "host-bye", "data": {}})
    await host.ws.disconnect()
    await eventually(lambda: not len(attendance), timeout=5, what="no attendance held")


async def test_leave_then_immediate_close_ends_the_peer_without_grace(
    rtc_service, rtc_client, meeting, host_user, member_user, settings
):
    """The member sends rtc:leave and closes in the same breath, without reading the reply:
    its peer and its media go at once with reason ``left``, and its leave is written."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": GRACE}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join()
    joined = await member.join()
    await member.produce(await member.transport("send"), "audio")
    await member.ws.send_json_to({"type": "rtc:leave", "requestId": "bye", "data": {}})
    await member.ws.disconnect()

    await _gone_at_once(rtc_service, host, meeting, member_user, joined["peerId"])
    counts = rtc_service.counts()
    assert (counts["transports"], counts["producers"]) == (0, 0)
    await _host_leaves(host)


async def test_close_after_a_refused_leave_is_still_a_leave(
    rtc_service, rtc_client, meeting, host_user, member_user, settings
):
    """The member's rtc:leave is refused (``limit``: its request budget is spent), then it
    closes: the close finishes the leave it asked for, at once, instead of keeping the peer
    for the grace period as for a dropped socket."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": GRACE,
                           "REQUESTS_PER_SECOND": 0.001, "REQUEST_BURST": 2}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join()
    joined = await member.join()
    await member.transport("send", connect=False)
    assert await member.fail("rtc:leave") == "limit"
    assert rtc_service.counts()["peers"] == 2, "the refused leave left the peer in the call"
    await member.ws.disconnect()

    await _gone_at_once(rtc_service, host, meeting, member_user, joined["peerId"])
    assert rtc_service.counts()["transports"] == 0
    await _host_leaves(host)


async def test_drop_without_leave_and_rejoin_after_leave_keep_the_grace(
    rtc_service, rtc_client, meeting, host_user, member_user, settings, manual_clock
):
    """A socket that closes without rtc:leave keeps its peer for the grace period; so does
    one that left the call and joined it again on the same socket before closing (the join
    cancels the leave)."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": GRACE}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join()
    await member.join("first")
    await member.ok("rtc:leave")
    again = await member.join("again")
    await member.ws.disconnect()
    await manual_clock.wait_scheduled()  # the dropped peer's grace period began
    await manual_clock.advance(GRACE - 1)

    assert rtc_service.counts()["peers"] == 2, "the dropped peer waits for its socket"
    assert attendance.holders(meeting.id, member_user.pk) == {peer_key(again["peerId"])}
    assert await _left_at(meeting, member_user) is None
    await host.drain()
    assert again["peerId"] not in [e["peerId"] for e in host.saw("rtc:peerLeft")]

    assert await rtc_service.expire_detached() == 1
    left = await host.event("rtc:peerLeft", peerId=again["peerId"])
    assert left["reason"] == "disconnected"
    assert await _left_at(meeting, member_user) is not None
    await _host_leaves(host)
