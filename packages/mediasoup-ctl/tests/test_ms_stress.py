"""Many objects at once on one worker, created concurrently; nothing left after closing."""

from __future__ import annotations

import asyncio
import time

from ms_media import LOOPBACK_UDP, MEDIA_CODECS, audio_parameters

ROUTERS = 10
TRANSPORTS_PER_ROUTER = 10
CONSUMERS_PER_TRANSPORT = 3


async def _room(worker, index: int):
    router = await worker.create_router(media_codecs=MEDIA_CODECS, app_data={"room": index})
    transports = await asyncio.gather(*(
        router.create_webrtc_transport(listen_infos=LOOPBACK_UDP, enable_sctp=True)
        for _ in range(TRANSPORTS_PER_ROUTER)))
    producers = await asyncio.gather(*(
        t.produce(kind="audio", rtp_parameters=audio_parameters(ssrc=1000 + i))
        for i, t in enumerate(transports)))
    consumers = await asyncio.gather(*(
        t.consume(producer_id=producers[(i + k) % len(producers)].id,
                  rtp_capabilities=router.rtp_capabilities, paused=True)
        for i, t in enumerate(transports) for k in range(1, CONSUMERS_PER_TRANSPORT + 1)))
    await asyncio.gather(*(c.resume() for c in consumers))
    return router, transports, producers, consumers


async def test_many_routers_transports_producers_consumers(worker):
    """10 routers x 10 transports x (1 producer + 3 consumers), all in flight at once."""
    started = time.perf_counter()
    rooms = await asyncio.gather(*(_room(worker, i) for i in range(ROUTERS)))
    elapsed = time.perf_counter() - started
    routers = [room[0] for room in rooms]
    consumers = [c for room in rooms for c in room[3]]
    assert len(consumers) == ROUTERS * TRANSPORTS_PER_ROUTER * CONSUMERS_PER_TRANSPORT
    assert all(not c.paused for c in consumers)
    assert sorted((await worker.dump())["routerIds"]) == sorted(r.id for r in routers)
    for router, _, _, room_consumers in rooms:
        dump = await router.dump()
        assert len(dump["transportIds"]) == TRANSPORTS_PER_ROUTER
        assert len(dump["mapConsumerIdProducerId"]) == len(room_consumers)
        assert all(len(kv["values"]) == CONSUMERS_PER_TRANSPORT
                   for kv in dump["mapProducerIdConsumerIds"])
    # Ports are unique across the worker.
    ports = [t.ice_candidates[0]["port"] for room in rooms for t in room[1]]
    assert len(set(ports)) == len(ports)
    # Close: half of the rooms by closing producers and transports, half by the router.
    closed_events = []
    for router, transports, producers, room_consumers in rooms[: ROUTERS // 2]:
        for c in room_consumers:
            c.on("producerclose", lambda: closed_events.append(1))
        for p in producers:
            p.close()
        # The worker sends each consumer's producerclose before answering this dump, and
        # the channel delivers them before the dump's reply resumes us.
        await router.dump()
        assert sum(c.closed for c in room_consumers) == len(room_consumers)
        for t in transports:
            t.close()
        assert (await router.dump())["transportIds"] == []
        router.close()
    for router, _, _, _ in rooms[ROUTERS // 2:]:
        router.close()
    await asyncio.sleep(0.05)
    assert (await worker.dump())["routerIds"] == []
    assert worker.routers == {}
    assert all(c.closed for c in consumers)
    assert len(closed_events) == (ROUTERS // 2) * TRANSPORTS_PER_ROUTER * CONSUMERS_PER_TRANSPORT
    # Only the worker's own subscription is left in the channel.
    assert list(worker.channel._handlers) == [str(worker.pid)]
    assert not worker.channel._pending
    print(f"\ncreated {ROUTERS} routers, {ROUTERS * TRANSPORTS_PER_ROUTER} transports, "
          f"{len(consumers) // CONSUMERS_PER_TRANSPORT} producers, {len(consumers)} consumers "
          f"in {elapsed:.2f} s")
