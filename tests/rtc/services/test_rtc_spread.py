"""A call larger than ``RTC_PEERS_PER_ROUTER`` spreads over routers on other workers: peers'
transports go on the least loaded router, producers are piped lazily (once per router) to the
routers that consume them, pipes close with their producer, an emptied extra router closes, and
a worker death only rebuilds the peers on its router. Real workers; the peers' DTLS is fake, so
what is checked is the server's objects as the workers dump them (media: test_rtc_spread_live).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from typing import Any

import pytest
from channels.db import database_sync_to_async

from rtc.operations.media_sampling import MediaSample, room_overview
from rtc.services.room_service import RoomService
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

_names = itertools.count()


@pytest.fixture
def spread_settings(settings: Any) -> Any:
    """Two workers, two peers per router."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_NUM": 2}
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "PEERS_PER_ROUTER": 2}
    return settings


async def _peers(rtc_client, open_meeting, make_user, count: int) -> list[Any]:
    """``count`` joined clients of the open meeting, each with a send and a recv transport."""
    clients = []
    for i in range(count):
        user = await database_sync_to_async(make_user)(f"spread{next(_names)}")
        client = await rtc_client(open_meeting, user)
        await client.join(f"P{i}")
        client.send = await client.transport("send")
        client.recv = await client.transport("recv")
        clients.append(client)
    return clients


async def _router_dumps(service: RoomService) -> dict[str, dict[str, Any]]:
    """router id → the worker's dump of it (transports, pipe transports, producers)."""
    return {r["id"]: r for d in await service.worker_dumps() for r in d["routers"]}


def _router_of(service: RoomService, meeting: Any, client: Any) -> Any:
    return service.rooms[str(meeting.id)].peers[client.joined["peerId"]].router


async def test_call_spreads_and_producers_are_piped_once_lazily(
        rtc_service: RoomService, rtc_client, open_meeting, make_user, spread_settings):
    """Four peers, two per router: the call has two routers on two workers; a producer is
    piped to the other router at its first consume there (two concurrent consumers share one
    pipe), audio is piped to the primary router for the speaker observer, closing a producer
    closes its pipe, and when the second router's peers leave it closes with its pipes."""
    a, b, c, d = await _peers(rtc_client, open_meeting, make_user, 4)
    room = rtc_service.rooms[str(open_meeting.id)]
    primary, second = room.routers
    assert room.workers[primary.id] is not room.workers[second.id]
    assert [_router_of(rtc_service, open_meeting, x) for x in (a, b, c, d)] == [
        primary, primary, second, second]
    assert room.counts()["peers"] == 4
    [row] = room_overview(rtc_service, MediaSample(taken_at=0.0))
    assert [(r["id"], r["peers"]) for r in row["routers"]] == [(primary.id, 2), (second.id, 2)]
    pids = {w.pid for w in rtc_service.mediasoup.workers}
    assert {r["workerPid"] for r in row["routers"]} == pids
    assert [p["routerId"] for p in row["peers"]].count(second.id) == 2

    video = await a.produce(a.send, "video")
    assert room.pipes == {}, "nothing is piped before a consume needs it"
    await b.consume(b.recv, video)  # same router: no pipe
    assert room.pipes == {}
    await asyncio.gather(c.consume(c.recv, video), d.consume(d.recv, video))
    assert list(room.pipes) == [(video, second.id)]
    dumps = await _router_dumps(rtc_service)
    assert dumps[primary.id]["pipeTransports"] == 1 == dumps[second.id]["pipeTransports"]
    assert video in dumps[second.id]["producerIds"]
    await a.consume(a.recv, await b.produce(b.send, "video"))
    assert len(room.pipes) == 1

    audio = await c.produce(c.send, "audio")  # on the second router: piped to the primary
    assert (audio, primary.id) in room.pipes
    assert audio in (await _router_dumps(rtc_service))[primary.id]["producerIds"]
    consumed = await a.consume(a.recv, audio)
    assert consumed["peerId"] == c.joined["peerId"] and consumed["kind"] == "audio"

    await a.ok("rtc:closeProducer", {"producerId": video})
    for x in (b, c, d):
        assert (await x.event("rtc:consumerClosed"))["producerId"] == video
    await rtc_service.wait_idle()
    assert (video, second.id) not in room.pipes
    dumps = await _router_dumps(rtc_service)
    assert all(video not in r["producerIds"] for r in dumps.values()), dumps

    for x in (c, d):
        await x.ok("rtc:leave")
    await rtc_service.wait_idle()
    assert second.closed and room.routers == [primary] and room.pipes == {}
    dumps = await _router_dumps(rtc_service)
    assert list(dumps) == [primary.id] and dumps[primary.id]["pipeTransports"] == 0
    assert dumps[primary.id]["transports"] == 4


async def test_new_peers_go_to_the_least_loaded_router(rtc_service: RoomService, rtc_client,
                                                       open_meeting, make_user,
                                                       spread_settings):
    """After a peer of the first router leaves, the next peer fills that router rather than
    the second; a peer's two transports are on one router."""
    a, b, c = await _peers(rtc_client, open_meeting, make_user, 3)
    room = rtc_service.rooms[str(open_meeting.id)]
    primary, second = room.routers
    await a.ok("rtc:leave")
    [e] = await _peers(rtc_client, open_meeting, make_user, 1)
    assert _router_of(rtc_service, open_meeting, e) is primary
    peer = room.peers[e.joined["peerId"]]
    assert {t.id for t in primary.transports.values()} >= set(peer.transports)
    assert _router_of(rtc_service, open_meeting, c) is second
    for x in (b, c, e):
        await x.ok("rtc:leave")


async def test_no_spare_worker_keeps_the_call_on_one_router(rtc_service: RoomService,
                                                            rtc_client, open_meeting,
                                                            make_user, settings):
    """With one worker, a call over the budget stays on its router (over the budget) and
    works; nothing is piped."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "PEERS_PER_ROUTER": 1}
    a, b = await _peers(rtc_client, open_meeting, make_user, 2)
    room = rtc_service.rooms[str(open_meeting.id)]
    assert len(room.routers) == 1
    await b.consume(b.recv, await a.produce(a.send, "audio"))
    assert room.pipes == {}
    for x in (a, b):
        await x.ok("rtc:leave")


async def test_default_budget_keeps_a_normal_call_on_one_router(rtc_service: RoomService,
                                                               rtc_client, open_meeting,
                                                               make_user, settings):
    """Without RTC_PEERS_PER_ROUTER, two workers and three peers still make one router."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_NUM": 2}
    peers = await _peers(rtc_client, open_meeting, make_user, 3)
    assert len(rtc_service.rooms[str(open_meeting.id)].routers) == 1
    for x in peers:
        await x.ok("rtc:leave")


async def test_death_of_a_spread_worker_rebuilds_only_its_peers(rtc_service: RoomService,
                                                                rtc_client, open_meeting,
                                                                make_user, spread_settings):
    """SIGKILL the second router's worker: its peers get rtc:reconnect, the others only see
    those peers' producers and their consumers of them close; after resuming, the peers get
    a router again (on the replacement worker) and media is consumed across routers again."""
    a, b, c, d = await _peers(rtc_client, open_meeting, make_user, 4)
    room = rtc_service.rooms[str(open_meeting.id)]
    primary, second = room.routers
    c_audio = await c.produce(c.send, "audio")
    a_audio = await a.produce(a.send, "audio")
    await a.consume(a.recv, c_audio)
    await d.consume(d.recv, a_audio)
    os.kill(room.workers[second.id].pid, signal.SIGKILL)
    for x in (c, d):
        assert await x.event("rtc:reconnect", timeout=15) == {
            "reason": "media_server_restarted"}
    assert (await a.event("rtc:producerClosed"))["producerId"] == c_audio
    assert (await a.event("rtc:consumerClosed"))["producerId"] == c_audio
    await rtc_service.wait_idle()
    assert room.routers == [primary] and room.router is primary and not primary.closed
    assert all(key[0] != c_audio for key in room.pipes)
    await a.drain()
    await b.drain()
    assert a.saw("rtc:reconnect") == [] and b.saw("rtc:reconnect") == []
    assert a_audio in room.producer_owner and c_audio not in room.producer_owner
    dumps = await _router_dumps(rtc_service)
    assert list(dumps) == [primary.id] and dumps[primary.id]["pipeTransports"] == 0

    for x in (c, d):
        resumed = await x.ok("rtc:join", {"displayName": "back", "resume": {
            "peerId": x.joined["peerId"], "token": x.joined["resumeToken"]}})
        assert resumed["resumed"] is True and resumed["transports"] == []
        x.send, x.recv = await x.transport("send"), await x.transport("recv")
    assert len(room.routers) == 2 and _router_of(rtc_service, open_meeting, c) is room.routers[1]
    c_audio = await c.produce(c.send, "audio")
    assert (await a.consume(a.recv, c_audio))["kind"] == "audio"
    assert (await d.consume(d.recv, a_audio))["kind"] == "audio"
    for x in (a, b, c, d):
        await x.ok("rtc:leave")


async def test_a_peer_placed_again_before_its_router_death_is_handled_still_reconnects(
        rtc_service: RoomService, rtc_client, open_meeting, make_user, spread_settings):
    """The second router's worker dies while the room is busy (its lock held), and one of its
    peers makes a transport meanwhile, placed on a live router: when the death is handled,
    that peer is still told to reconnect, its dead transports, its producer and its new
    transport are all gone (nothing left in the workers), and the others see its producer
    close. Found by bench.worker_kill_load with 100 peers: such peers kept a dead send
    transport and lost their producer silently."""
    a, b, c, d = await _peers(rtc_client, open_meeting, make_user, 4)
    room = rtc_service.rooms[str(open_meeting.id)]
    primary, second = room.routers
    assert _router_of(rtc_service, open_meeting, c) is second
    c_audio = await c.produce(c.send, "audio")
    async with room.lock:
        os.kill(room.workers[second.id].pid, signal.SIGKILL)
        await eventually(lambda: second.closed, what="the killed worker noticed")
        await c.transport("recv")
        assert _router_of(rtc_service, open_meeting, c) not in (second, None)
    assert await c.event("rtc:reconnect", timeout=15) == {"reason": "media_server_restarted"}
    assert (await a.event("rtc:producerClosed"))["producerId"] == c_audio
    await rtc_service.wait_idle()
    peer = room.peers[c.joined["peerId"]]
    assert peer.transports == {} and peer.producers == {} and peer.router is None
    dumps = await _router_dumps(rtc_service)
    assert sum(r["transports"] for r in dumps.values()) == 4  # a and b: nothing of c or d
    for x in (a, b, c, d):
        await x.ok("rtc:leave")


async def test_death_of_the_primary_worker_hands_the_call_over(rtc_service: RoomService,
                                                               rtc_client, open_meeting,
                                                               make_user, spread_settings):
    """SIGKILL the primary router's worker: its peers reconnect, the second router becomes
    the primary with a new speaker observer hearing the audio of the call, and the resumed
    peers are placed again and receive the others."""
    a, b, c, d = await _peers(rtc_client, open_meeting, make_user, 4)
    room = rtc_service.rooms[str(open_meeting.id)]
    primary, second = room.routers
    old_observer = room.observer
    c_audio = await c.produce(c.send, "audio")
    os.kill(room.workers[primary.id].pid, signal.SIGKILL)
    for x in (a, b):
        assert await x.event("rtc:reconnect", timeout=15) == {
            "reason": "media_server_restarted"}
    await rtc_service.wait_idle()
    assert room.router is second and room.routers[0] is second
    assert room.observer is not old_observer and not room.observer.closed
    await c.drain()
    assert c.saw("rtc:reconnect") == []
    for x in (a, b):
        await x.ok("rtc:join", {"displayName": "back", "resume": {
            "peerId": x.joined["peerId"], "token": x.joined["resumeToken"]}})
        x.send, x.recv = await x.transport("send"), await x.transport("recv")
    assert (await a.consume(a.recv, c_audio))["kind"] == "audio"
    b_audio = await b.produce(b.send, "audio")
    assert (await d.consume(d.recv, b_audio))["kind"] == "audio"
    for x in (a, b, c, d):
        await x.ok("rtc:leave")


async def test_a_failed_pipe_is_forgotten_and_its_consume_refused(rtc_service: RoomService,
                                                                  rtc_client, open_meeting,
                                                                  make_user, spread_settings):
    """A pipe that cannot be made (its producer is not on the source router) raises and
    leaves no cache entry, so a later consume tries again; a consume of a producer closed
    meanwhile is `not_found`."""
    a, b, c = await _peers(rtc_client, open_meeting, make_user, 3)
    room = rtc_service.rooms[str(open_meeting.id)]
    second = room.routers[1]
    with pytest.raises(Exception, match="not found"):
        await rtc_service.spread.pipe_to(room, "no-such-producer", second)
    assert room.pipes == {}
    video = await a.produce(a.send, "video")
    await a.ok("rtc:closeProducer", {"producerId": video})
    assert await c.fail("rtc:consume", {
        "transportId": c.recv, "producerId": video,
        "rtpCapabilities": c.joined["routerRtpCapabilities"]}) == "not_found"
    assert room.pipes == {}
    for x in (a, b, c):
        await x.ok("rtc:leave")


async def test_dynacast_counts_the_consumers_on_other_routers(rtc_service: RoomService,
                                                              rtc_client, open_meeting,
                                                              make_user, spread_settings):
    """A simulcast camera consumed only on another router: the sender is told the layer that
    consumer prefers (the pipe consumer, which forwards every layer, does not count)."""
    from tests.rtc.services.test_rtc_dynacast import simulcast_parameters

    spread_settings.RTC_DYNACAST = {"RAISE_DELAY": 0.02, "LOWER_DELAY": 0.3}
    spread_settings.RTC_LIMITS = {**spread_settings.RTC_LIMITS, "PEERS_PER_ROUTER": 1}
    host, viewer = await _peers(rtc_client, open_meeting, make_user, 2)
    room = rtc_service.rooms[str(open_meeting.id)]
    assert _router_of(rtc_service, open_meeting, viewer) is room.routers[1]
    produced = await host.ok("rtc:produce", {
        "transportId": host.send, "kind": "video", "rtpParameters": simulcast_parameters(),
        "appData": {"source": "webcam"}})
    consumed = await viewer.consume(viewer.recv, produced["id"])
    assert consumed["consumerType"] == "simulcast"
    await viewer.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    await viewer.ok("rtc:setPreferredLayers", {"consumerId": consumed["id"],
                                               "spatialLayer": 1, "temporalLayer": 2})
    event = await host.event("rtc:producerLayers", timeout=3)
    assert event == {"producerId": produced["id"], "maxSpatialLayer": 1, "spatialLayers": 3}
    for x in (host, viewer):
        await x.ok("rtc:leave")


async def test_a_room_opens_without_waiting_for_its_speaker_observer(rtc_service: RoomService,
                                                                     open_meeting):
    """A room is open (its first join replies) while its speaker observer is still being
    made on the worker; an observer finished for a router the call has left meanwhile (its
    worker died) is closed, not installed over the call's current one."""
    room = await rtc_service._room_for(str(open_meeting.id), 10)
    opening = room.observer_opening
    assert room.observer is None and opening is not None and not opening.done()
    await opening
    first, old_router = room.observer, room.router
    assert first is not None and not first.closed
    worker, router = await rtc_service.mediasoup.create_router()
    rtc_service.spread.open_observer(room)
    moving = room.observer_opening
    await asyncio.sleep(0)  # its request is out, for the old router
    room.set_primary(worker, router)  # the call moves before the worker answered
    await moving
    assert room.observer is first
    assert list(old_router._rtp_observers.values()) == [first]  # the late one was closed
    await rtc_service._close_room(room)


async def test_an_audio_producer_waits_for_the_speaker_observer_being_made(
        rtc_service: RoomService, open_meeting, caplog: pytest.LogCaptureFixture) -> None:
    """A producer handed to the speaker observer while a new room's observer is still being
    made waits for it and goes to it (here the worker refuses an unknown producer: the call
    goes on, a warning says so), instead of finding no observer and being left unheard."""
    room = await rtc_service._room_for(str(open_meeting.id), 10)
    assert room.observer is None and not room.observer_opening.done()

    class Unknown:
        id = "00000000-0000-4000-8000-000000000000"

    await rtc_service.spread.observe_audio(room, Unknown())
    assert room.observer_opening.done() and room.observer is not None
    assert "active speaker observer refused producer" in caplog.text
    await rtc_service._close_room(room)
