"""Peer lifecycle: socket drops with and without a grace period, resuming as the same peer,
transports that never connect, concurrent joins, and that a dropped socket leaves nothing."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from meetings import services
from meetings.models import Participant
from tests.support.rtc_client import join_both
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


async def test_socket_drop_without_grace_releases_everything(rtc_service, rtc_client, meeting,
                                                             host_user, member_user):
    """With no grace, a dropped socket frees its peer at once and the call is told."""
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    producer = await member.produce(await member.transport("send"), "video")
    consumed = await host.consume(await host.transport("recv"), producer)
    worker = rtc_service.mediasoup.workers[0]
    await member.ws.disconnect()
    assert (await host.event("rtc:consumerClosed"))["consumerId"] == consumed["id"]
    left = await host.event("rtc:peerLeft")
    assert left == {"peerId": member.joined["peerId"], "reason": "disconnected"}
    counts = rtc_service.counts()
    assert (counts["peers"], counts["transports"], counts["producers"],
            counts["consumers"]) == (1, 1, 0, 0)
    await host.ws.disconnect()
    assert rtc_service.counts()["rooms"] == 0
    assert await rtc_service.mediasoup.call_router_ids(worker) == []
    present = await database_sync_to_async(
        Participant.objects.filter(meeting=meeting, left_at__isnull=True,
                                   joined_at__isnull=False).count)()
    assert present == 0, "both leaves were written to the participant rows"


async def test_resume_within_grace_keeps_the_peer_and_its_media(rtc_service, rtc_client,
                                                                 meeting, host_user,
                                                                 member_user, settings,
                                                                 manual_clock):
    """A client that reconnects within the grace period resumes the same peer: same id,
    same transports and producers (ICE restarted), and the others notice nothing."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 30}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join()
    joined = await member.join("Milo")
    send = await member.transport("send")
    producer = await member.produce(send, "audio")
    consumed = await host.consume(await host.transport("recv"), producer)
    await member.ws.disconnect()
    await manual_clock.wait_scheduled()  # detached: its grace period runs
    await manual_clock.advance(29)
    assert rtc_service.counts()["peers"] == 2 and rtc_service.counts()["producers"] == 1

    again = await rtc_client(meeting, member_user)
    resumed = await again.ok("rtc:join", {"displayName": "Milo", "resume": {
        "peerId": joined["peerId"], "token": joined["resumeToken"]}})
    again.joined = resumed
    assert resumed["resumed"] is True and resumed["peerId"] == joined["peerId"]
    assert resumed["transports"] == [{"id": send, "direction": "send"}]
    assert [p["id"] for p in resumed["producers"]] == [producer]
    restarted = await again.ok("rtc:restartIce", {"transportId": send})
    assert restarted["iceParameters"]["usernameFragment"]
    await again.ok("rtc:pauseProducer", {"producerId": producer})
    assert (await host.event("rtc:producerPaused"))["producerId"] == producer
    await host.drain()
    assert host.saw("rtc:peerLeft") == [] and host.saw("rtc:consumerClosed") == []
    assert rtc_service.counts()["consumers"] == 1 and consumed


async def test_grace_expiry_removes_the_peer(rtc_service, rtc_client, meeting, host_user,
                                             member_user, settings, manual_clock):
    """A client that does not come back within the grace period is removed when it ends (not
    a moment before), the others are told, and its resume token is useless afterwards."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 30}
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    joined = member.joined
    await member.produce(await member.transport("send"), "audio")
    await member.ws.disconnect()
    await manual_clock.wait_scheduled()
    await manual_clock.advance(29.9)
    await host.drain(wait=0.1)
    assert host.saw("rtc:peerLeft") == [] and rtc_service.counts()["peers"] == 2
    await manual_clock.advance(0.1)
    left = await host.event("rtc:peerLeft", timeout=5)
    assert left == {"peerId": joined["peerId"], "reason": "disconnected"}
    assert rtc_service.counts()["peers"] == 1 and rtc_service.counts()["producers"] == 0
    again = await rtc_client(meeting, member_user)
    code = await again.fail("rtc:join", {"displayName": "late", "resume": {
        "peerId": joined["peerId"], "token": joined["resumeToken"]}})
    assert code == "not_found"


async def test_last_peer_dropping_with_grace_closes_the_room_later(rtc_service, rtc_client,
                                                                   meeting, host_user,
                                                                   settings, manual_clock):
    """The room of a lone dropped peer survives the grace period, then closes with its router."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 30}
    host = await rtc_client(meeting, host_user)
    await host.join()
    await host.transport("send")
    await host.ws.disconnect()
    await manual_clock.wait_scheduled()
    await manual_clock.advance(29.9)
    assert len(rtc_service.rooms) == 1
    await manual_clock.advance(0.1)
    await eventually(lambda: rtc_service.rooms == {}, what="the room closed")
    assert await rtc_service.mediasoup.call_router_ids(rtc_service.mediasoup.workers[0]) == []


async def test_resume_takes_over_from_a_stale_socket(rtc_service, rtc_client, meeting,
                                                     host_user):
    """Resuming from a second socket while the first is still open moves the peer; the old
    socket can no longer act for it."""
    first = await rtc_client(meeting, host_user)
    joined = await first.join()
    second = await rtc_client(meeting, host_user)
    resumed = await second.ok("rtc:join", {"displayName": "x", "resume": {
        "peerId": joined["peerId"], "token": joined["resumeToken"]}})
    assert resumed["peerId"] == joined["peerId"]
    assert await first.fail("rtc:createTransport", {"direction": "send"}) == "invalid"
    await second.transport("send")
    await first.ws.disconnect()
    assert rtc_service.counts()["peers"] == 1, "the old socket closing does not end the peer"


async def test_transport_that_never_connects_is_closed(rtc_service, rtc_client, meeting,
                                                       host_user, member_user, settings,
                                                       manual_clock):
    """A transport without DTLS at the deadline is closed (not before); its owner and the
    others are told (transportClosed, producerClosed)."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "TRANSPORT_CONNECT_TIMEOUT_SECONDS": 10}
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    send = await member.transport("send", connect=False)
    producer = await member.produce(send, "audio")
    await manual_clock.advance(9.9)
    await member.drain(wait=0.1)
    assert member.saw("rtc:transportClosed") == [] and rtc_service.counts()["transports"] == 1
    await manual_clock.advance(0.1)
    closed = await member.event("rtc:transportClosed", timeout=5)
    assert closed == {"transportId": send, "reason": "connect_timeout"}
    assert (await host.event("rtc:producerClosed"))["producerId"] == producer
    assert rtc_service.counts()["transports"] == 0 and rtc_service.counts()["producers"] == 0


async def test_concurrent_joins_respect_the_limit_and_share_one_router(
        rtc_service, rtc_client, open_meeting, make_user, settings):
    """Six sockets join a new call at once with room for three: three succeed, three are
    refused with room_full, and only one router was created."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "MAX_PEERS_PER_MEETING": 3}
    users = [await database_sync_to_async(make_user)(f"user{i}") for i in range(6)]
    clients = [await rtc_client(open_meeting, user) for user in users]
    replies = await asyncio.gather(*(c.request("rtc:join", {"displayName": f"p{i}"})
                                     for i, c in enumerate(clients)))
    codes = sorted(r.get("code", "ok") for r in replies)
    assert codes == ["ok", "ok", "ok", "room_full", "room_full", "room_full"]
    assert rtc_service.counts()["peers"] == 3
    assert len(await rtc_service.mediasoup.call_router_ids(rtc_service.mediasoup.workers[0])) == 1


async def test_ended_meeting_skips_the_grace_period(rtc_service, rtc_client, meeting, host_user,
                                                    member_user, settings):
    """When the host ends the meeting, the sockets close and the peers go at once despite a
    long grace period: there is nothing to come back to."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 60}
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    await member.produce(await member.transport("send"), "audio")
    await database_sync_to_async(services.meeting_end)(meeting=meeting, actor=host_user)
    await eventually(lambda: not rtc_service.rooms, what="every room closed")
    assert rtc_service.counts()["peers"] == 0


async def test_participant_removed_from_meeting_skips_the_grace_period(
        rtc_service, rtc_client, meeting, host_user, member_user, settings):
    """A member removed from the meeting (REST API) loses its call peer at once."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 60}
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    joined = member.joined
    await database_sync_to_async(services.participant_remove)(
        meeting=meeting, actor=host_user, username=member_user.username)
    left = await host.event("rtc:peerLeft", peerId=joined["peerId"])
    assert left["reason"] == "disconnected"
    assert rtc_service.counts()["peers"] == 1


async def test_concurrent_media_requests_and_leaves_stay_consistent(rtc_service, rtc_client,
                                                                    open_meeting, make_user):
    """Six peers produce and consume all at once while half of them leave: every request
    either succeeds or fails cleanly (not_found for what just went away), and the room's
    model matches the worker's own view of the router afterwards."""
    users = [await database_sync_to_async(make_user)(f"c{i}") for i in range(6)]
    clients = [await rtc_client(open_meeting, user) for user in users]
    await asyncio.gather(*(c.join(f"p{i}") for i, c in enumerate(clients)))

    async def setup(client):
        send = await client.transport("send")
        client.recv_id = await client.transport("recv")
        client.produced = [await client.produce(send, "audio"),
                           await client.produce(send, "video")]

    await asyncio.gather(*(setup(c) for c in clients))
    producers = [p for c in clients for p in c.produced]

    async def consume_all(client):
        codes = []
        for producer in producers:
            if producer in client.produced:
                continue
            reply = await client.request("rtc:consume", {
                "transportId": client.recv_id, "producerId": producer,
                "rtpCapabilities": client.joined["routerRtpCapabilities"]})
            codes.append(reply.get("code", "ok"))
        return codes

    leavers, stayers = clients[:3], clients[3:]
    results = await asyncio.gather(*(consume_all(c) for c in stayers),
                                   *(c.request("rtc:leave", {}) for c in leavers))
    for codes in results[:3]:
        assert set(codes) <= {"ok", "not_found"}, codes
    assert all("error" not in reply for reply in results[3:])

    room = rtc_service.rooms[str(open_meeting.id)]
    dump = await room.router.dump()
    transports = {t for p in room.peers.values() for t in p.transports}
    consumers = {c for p in room.peers.values() for c in p.consumers}
    assert set(dump["transportIds"]) == transports and len(transports) == 6
    assert {item["key"] for item in dump["mapConsumerIdProducerId"]} == consumers
    assert {item["key"] for item in dump["mapProducerIdConsumerIds"]} == \
        set(room.producer_owner)
    assert len(room.producer_owner) == 6
    # Every stayer ends up consuming exactly the stayers' other producers.
    stayer_producers = {p for c in stayers for p in c.produced}
    for peer in room.peers.values():
        assert {c.producer_id for c in peer.consumers.values()} <= stayer_producers


async def test_rooms_of_different_meetings_open_side_by_side(rtc_service, rtc_client,
                                                             open_meeting, host_user, make_user):
    """Two meetings' first joins at once: the second meeting's router is asked for while the
    first's is still being created (each creation below waits until both have begun; one room
    opening at a time would never get there), and each meeting gets its own room."""
    other = await database_sync_to_async(services.meeting_create)(
        host=host_user, title="Another", access=open_meeting.access)
    users = [await database_sync_to_async(make_user)(f"opener{i}") for i in range(2)]
    clients = [await rtc_client(m, u) for m, u in zip((open_meeting, other), users, strict=True)]
    create_router = rtc_service.mediasoup.create_router
    begun: list[str] = []
    both = asyncio.Event()

    async def create_when_both_begun(**kwargs):
        begun.append(kwargs["app_data"]["meetingId"])
        if len(begun) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 5)
        return await create_router(**kwargs)

    rtc_service.mediasoup.create_router = create_when_both_begun
    try:
        replies = await asyncio.gather(*(c.request("rtc:join", {"displayName": f"p{i}"})
                                         for i, c in enumerate(clients)))
    finally:
        rtc_service.mediasoup.create_router = create_router
    assert all("code" not in r for r in replies), replies
    assert sorted(begun) == sorted([str(open_meeting.id), str(other.id)])
    assert set(rtc_service.rooms) == {str(open_meeting.id), str(other.id)}


async def test_joins_waiting_for_their_room_go_on_together(rtc_service, rtc_client,
                                                           open_meeting, make_user):
    """Eight first joins of one meeting at once: one opens the room, the seven others wait for
    it and, once its router is there, all go on in the same turn of the event loop (queued on
    a lock they went on one after another, a turn each: in a burst, up to 120 ms for a
    meeting's last join)."""
    users = [await database_sync_to_async(make_user)(f"together{i}") for i in range(8)]
    clients = [await rtc_client(open_meeting, u) for u in users]
    create_router = rtc_service.mediasoup.create_router
    release = asyncio.Event()
    asked: list[str] = []

    async def create_when_released(**kwargs):
        asked.append(kwargs["app_data"]["meetingId"])
        await asyncio.wait_for(release.wait(), 5)
        return await create_router(**kwargs)

    rtc_service.mediasoup.create_router = create_when_released
    resumed: list[int] = []
    open_room = rtc_service._open_room
    turn = 0

    def counting_open_room(meeting_id, capacity):
        room = open_room(meeting_id, capacity)
        if room is not None:
            resumed.append(turn)
        return room

    rtc_service._open_room = counting_open_room
    try:
        joins = asyncio.gather(*(c.request("rtc:join", {"displayName": f"p{i}"})
                                 for i, c in enumerate(clients)))
        await eventually(lambda: len(rtc_service._being_opened) == 1 and asked, timeout=5)
        for _ in range(50):  # every join has asked for the room by now
            await asyncio.sleep(0)
        release.set()
        while not joins.done():
            turn += 1
            await asyncio.sleep(0)
        replies = await joins
    finally:
        rtc_service.mediasoup.create_router = create_router
        rtc_service._open_room = open_room
    assert all("code" not in r for r in replies), replies
    assert asked == [str(open_meeting.id)]
    assert len(resumed) == 7 and max(resumed) - min(resumed) <= 1, resumed
    assert len(rtc_service.rooms[str(open_meeting.id)].peers) == 8
