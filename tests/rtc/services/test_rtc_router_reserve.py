"""The pool's reserve of idle routers (`rtc.services.router_reserve`): each worker keeps a few
ready, a meeting's room opens on one without asking its worker for a router, the one taken is
replaced, and a worker that dies takes its spares with it while its replacement gets its own."""

from __future__ import annotations

import os
import signal

import pytest
from mediasoup_ctl.testing import process_gone

from rtc.services.room_service import RoomService
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spares(settings) -> int:
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "SPARE_ROUTERS_PER_WORKER": 2}
    return 2


async def _spare_ids(service: RoomService) -> list[set[str]]:
    """Each worker's idle routers, as the worker itself reports its routers."""
    pool = service.mediasoup
    ids = []
    for worker in pool.workers:
        dump = await worker.dump()
        calls = await pool.call_router_ids(worker)
        ids.append(set(dump["routerIds"]) - set(calls))
    return ids


async def test_a_room_opens_on_a_spare_router_which_is_then_replaced(
        rtc_service: RoomService, rtc_client, meeting, host_user, spares):
    """The started pool holds two idle routers in its worker; the meeting's first join opens
    its room on one of them without a router request of its own, the meeting's id in its
    app data; the reserve is back to two, and the worker then runs three routers, one of
    them the call's (the only one its call-router views count)."""
    pool = rtc_service.mediasoup
    await pool.start()
    await pool.wait_idle()
    (ready,) = await _spare_ids(rtc_service)
    assert len(ready) == spares
    worker = pool.workers[0]
    asked = []
    create_router = worker.create_router

    async def counting(**kwargs):
        asked.append(kwargs.get("app_data"))
        return await create_router(**kwargs)

    worker.create_router = counting
    try:
        client = await rtc_client(meeting, host_user)
        await client.join("Hazel")
        room = rtc_service.rooms[str(meeting.id)]
        assert room.router.id in ready
        assert room.router.app_data == {"meetingId": str(meeting.id)}
        await pool.wait_idle()
    finally:
        worker.create_router = create_router
    assert asked == [{}]  # only the replacement spare
    (now,) = await _spare_ids(rtc_service)
    assert len(now) == spares and room.router.id not in now
    assert len((await worker.dump())["routerIds"]) == spares + 1
    assert pool.call_routers(worker) == 1
    (dump,) = await rtc_service.worker_dumps()
    assert dump["routerIds"] == [room.router.id] and dump["spareRouters"] == spares
    await client.ok("rtc:leave")
    await eventually(lambda: room.router.closed, timeout=5)
    assert pool.reserve.count(worker) == spares  # a call's router is not given back


async def test_spares_do_not_count_when_the_pool_picks_a_worker(rtc_service: RoomService,
                                                                settings, spares):
    """Two workers each holding spares: routers asked for at once land on different workers
    (a spare each), as without a reserve."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_NUM": 2}
    pool = rtc_service.mediasoup
    await pool.start()
    await pool.wait_idle()
    assert [pool.reserve.count(w) for w in pool.workers] == [spares, spares]
    first = await pool.create_router(app_data={"meetingId": "a"})
    second = await pool.create_router(app_data={"meetingId": "b"})
    assert first[0] is not second[0]
    assert sorted(pool.call_routers(w) for w in pool.workers) == [1, 1]
    for _, router in (first, second):
        router.close()
    await pool.wait_idle()


async def test_a_dead_workers_spares_go_with_it_and_its_replacement_gets_its_own(
        rtc_service: RoomService, rtc_client, meeting, host_user, spares):
    """SIGKILL the worker: its spares are closed and forgotten, the replacement worker gets
    two of its own, and a new meeting opens on one of them."""
    pool = rtc_service.mediasoup
    await pool.start()
    await pool.wait_idle()
    old = pool.workers[0]
    old_spares = list(pool.reserve._spares[old])
    os.kill(old.pid, signal.SIGKILL)
    await eventually(lambda: pool.replacements == 1 and pool.workers, timeout=15)
    await pool.wait_idle()
    await eventually(lambda: process_gone(old.pid), timeout=10)
    assert all(router.closed for router in old_spares)
    assert old not in pool.reserve._spares
    (ready,) = await _spare_ids(rtc_service)
    assert len(ready) == spares
    client = await rtc_client(meeting, host_user)
    await client.join("Hazel")
    assert rtc_service.rooms[str(meeting.id)].router.id in ready


async def test_without_a_reserve_each_room_asks_its_worker(rtc_service: RoomService,
                                                            rtc_client, meeting, host_user,
                                                            settings):
    """``SPARE_ROUTERS_PER_WORKER`` 0: no idle router, the room's router is made for it."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "SPARE_ROUTERS_PER_WORKER": 0}
    pool = rtc_service.mediasoup
    await pool.start()
    await pool.wait_idle()
    assert await _spare_ids(rtc_service) == [set()]
    client = await rtc_client(meeting, host_user)
    await client.join("Hazel")
    await pool.wait_idle()
    assert pool.reserve.count(pool.workers[0]) == 0
    assert (await pool.workers[0].dump())["routerIds"] == [
        rtc_service.rooms[str(meeting.id)].router.id]


async def test_spares_made_beyond_a_lowered_reserve_are_closed(rtc_service: RoomService,
                                                               settings, spares):
    """The reserve lowered while spares are being made: those beyond it are closed, not
    kept."""
    pool = rtc_service.mediasoup
    await pool.start()
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "SPARE_ROUTERS_PER_WORKER": 1}
    await pool.wait_idle()
    worker = pool.workers[0]
    assert pool.reserve.count(worker) == 1
    assert len((await worker.dump())["routerIds"]) == 1
