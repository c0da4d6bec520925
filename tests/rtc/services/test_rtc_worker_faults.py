"""The worker pool: least-loaded placement, and a worker killed mid-call is replaced, its
meetings get new routers, their peers get rtc:reconnect and can resume and send again, while
meetings on other workers are not disturbed."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from mediasoup_ctl.testing import process_gone

from rtc.services.room_service import RoomService
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


async def _wait_for(predicate, timeout: float = 10.0) -> None:
    await eventually(predicate, timeout=timeout)


async def test_meetings_go_to_the_least_loaded_worker(rtc_service: RoomService, rtc_client,
                                                      meeting, open_meeting, host_user,
                                                      settings):
    """With two workers, two meetings get routers on different workers."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_NUM": 2}
    first = await rtc_client(meeting, host_user)
    second = await rtc_client(open_meeting, host_user)
    await first.join()
    await second.join()
    workers = rtc_service.mediasoup.workers
    assert len(workers) == 2
    assert sorted(rtc_service.mediasoup.call_routers(w) for w in workers) == [1, 1]
    rooms = list(rtc_service.rooms.values())
    assert rooms[0].worker is not rooms[1].worker


async def test_meetings_opened_at_once_go_to_different_workers(rtc_service: RoomService,
                                                               settings):
    """Routers asked for at once (rooms open side by side) count the ones still being created:
    with two workers, two routers created together land on different workers, and a third
    on the one of the two whose router closed."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_NUM": 2}
    pool = rtc_service.mediasoup
    (w1, r1), (w2, r2) = await asyncio.gather(pool.create_router(), pool.create_router())
    assert w1 is not w2
    r1.close()
    w3, r3 = await pool.create_router()
    assert w3 is w1
    r2.close()
    r3.close()


async def test_killed_worker_is_replaced_and_peers_resume(rtc_service: RoomService, rtc_client,
                                                          meeting, host_user, member_user):
    """SIGKILL the only worker mid-call: a new worker starts, the room gets a new router, both
    peers get rtc:reconnect, and after resuming they send and receive again."""
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join("Hazel")
    await member.join("Milo")
    producer = await host.produce(await host.transport("send"), "audio")
    await member.consume(await member.transport("recv"), producer)
    room = rtc_service.rooms[str(meeting.id)]
    old_worker, old_router = room.worker, room.router
    os.kill(old_worker.pid, signal.SIGKILL)

    for client in (host, member):
        event = await client.event("rtc:reconnect", timeout=15)
        assert event == {"reason": "media_server_restarted"}
    await rtc_service.wait_idle()
    assert rtc_service.mediasoup.replacements == 1
    assert old_worker.closed and old_router.closed
    await _wait_for(lambda: process_gone(old_worker.pid))
    new_worker = rtc_service.mediasoup.workers[0]
    assert new_worker is not old_worker and room.router is not old_router
    assert await rtc_service.mediasoup.call_router_ids(new_worker) == [room.router.id]
    assert rtc_service.counts()["transports"] == 0 and rtc_service.counts()["producers"] == 0

    for client in (host, member):
        resumed = await client.ok("rtc:join", {"displayName": "back", "resume": {
            "peerId": client.joined["peerId"], "token": client.joined["resumeToken"]}})
        assert resumed["resumed"] is True and resumed["transports"] == []
        assert resumed["routerRtpCapabilities"] == client.joined["routerRtpCapabilities"]
        client.joined = resumed
    producer = await host.produce(await host.transport("send"), "audio")
    assert (await member.event("rtc:newProducer", producerId=producer))["kind"] == "audio"
    consumed = await member.consume(await member.transport("recv"), producer)
    await member.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    assert rtc_service.counts()["consumers"] == 1


async def test_worker_death_leaves_other_workers_meetings_alone(rtc_service: RoomService,
                                                                rtc_client, meeting,
                                                                open_meeting, host_user,
                                                                member_user, settings):
    """Only the dead worker's meeting is moved; the other meeting keeps its router and media
    and its peers get no rtc:reconnect."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_NUM": 2}
    a = await rtc_client(meeting, host_user)
    b = await rtc_client(open_meeting, member_user)
    await a.join()
    await b.join()
    b_producer = await b.produce(await b.transport("send"), "audio")
    room_a = rtc_service.rooms[str(meeting.id)]
    room_b = rtc_service.rooms[str(open_meeting.id)]
    router_b = room_b.router
    os.kill(room_a.worker.pid, signal.SIGKILL)
    assert await a.event("rtc:reconnect", timeout=15) == {"reason": "media_server_restarted"}
    await rtc_service.wait_idle()
    assert room_b.router is router_b and not router_b.closed
    assert b_producer in room_b.producer_owner
    await b.drain()
    assert b.saw("rtc:reconnect") == []
    assert len(rtc_service.mediasoup.workers) == 2


async def test_no_worker_binary_is_an_internal_error_not_a_crash(rtc_service: RoomService,
                                                                 rtc_client, meeting, host_user,
                                                                 settings, tmp_path):
    """If no worker can start, rtc:join answers `internal` (no details), no room is left, and
    the socket keeps working."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_BIN": str(tmp_path / "missing")}
    host = await rtc_client(meeting, host_user)
    reply = await host.request("rtc:join", {"displayName": "Hazel"})
    assert reply["code"] == "internal" and "missing" not in reply["error"]
    assert rtc_service.rooms == {} and rtc_service.mediasoup.workers == []
    assert (await host.ok("ping"))["type"] == "pong"
