"""Which objects a router and a transport hold, as children open and close.

A transport and its children keep the dicts by id of their parents up to date themselves
(no listener closures: fewer objects per mediasoup object, less for the garbage collector
to walk). These tests close children in every way (by the user, by their transport, by
their router) and check the dicts, the public views and that no listener was left behind.
"""

from __future__ import annotations

import gc

import pytest

from mediasoup_ctl import UnsupportedError
from ms_media import (
    LOOPBACK_UDP,
    MEDIA_CODECS,
    audio_parameters,
    simulcast_video_parameters,
    wait_for,
)


def _no_listeners(*objects: object) -> bool:
    return all(not obj._listeners and not obj.observer._listeners  # type: ignore[attr-defined]
               for obj in objects)


async def test_children_leave_their_transport_and_router_when_closed(worker):
    """Producers, consumers, data producers and data consumers are found by id while open
    and gone from every dict once closed by the user; nothing listens to them."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    direct = await router.create_direct_transport()
    audio = await send.produce(kind="audio", rtp_parameters=audio_parameters())
    video = await send.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    consumer = await recv.consume(producer_id=video.id, rtp_capabilities=router.rtp_capabilities)
    data_producer = await direct.produce_data()
    data_consumer = await direct.consume_data(data_producer_id=data_producer.id)
    assert router._producers == {audio.id: audio, video.id: video}
    assert router._data_producers == {data_producer.id: data_producer}
    assert send.producers == {audio.id: audio, video.id: video}
    assert recv.consumers == {consumer.id: consumer}
    assert direct.data_consumers == {data_consumer.id: data_consumer}
    assert _no_listeners(audio, video, consumer, data_producer, data_consumer, send, recv)

    consumer.close()
    audio.close()
    data_consumer.close()
    data_producer.close()
    assert recv.consumers == {} and direct.data_consumers == {} and direct.data_producers == {}
    assert send.producers == {video.id: video} and router._producers == {video.id: video}
    assert router._data_producers == {}
    assert not router.can_consume(producer_id=audio.id,
                                  rtp_capabilities=router.rtp_capabilities)
    with pytest.raises(UnsupportedError):
        await recv.consume(producer_id=audio.id, rtp_capabilities=router.rtp_capabilities)
    dump = await router.dump()
    assert [entry["key"] for entry in dump["mapProducerIdConsumerIds"]] == [video.id]


async def test_closing_a_transport_or_router_empties_every_dict(worker):
    """A transport's close drops it and its producers from the router; a router's close
    drops the rest, children closed with the event of their parent."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    video = await send.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    consumer = await recv.consume(producer_id=video.id, rtp_capabilities=router.rtp_capabilities)
    events: list[str] = []
    video.on("transportclose", lambda: events.append("video"))
    consumer.on("producerclose", lambda: events.append("consumer"))
    send.close()
    assert events == ["video"]  # at once; the consumer hears from the worker
    assert video.closed and send.producers == {} and router._producers == {}
    assert list(router.transports) == [recv.id]
    assert await wait_for(lambda: consumer.closed, 5)  # the worker's producerclose
    assert consumer.closed and events == ["video", "consumer"] and recv.consumers == {}
    router.close()
    assert recv.closed and router.transports == {}
    assert router.id not in (await worker.dump())["routerIds"]


def _tracked() -> int:
    gc.collect()
    return len(gc.get_objects())


async def test_objects_the_garbage_collector_walks_per_mediasoup_object(worker):
    """A WebRtcTransport, a simulcast producer and a consumer stay within a budget of objects
    the cyclic collector tracks (each full collection walks them all: thousands of peers
    hold tens of thousands of these). Before: 36, 40 and 30; the transport now keeps no
    creation dump and no parent keeps listener closures on its children."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    warm = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    producer = await warm.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    await recv.consume(producer_id=producer.id, rtp_capabilities=router.rtp_capabilities)
    count = 20
    before = _tracked()
    transports = [await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
                  for _ in range(count)]
    after_transports = _tracked()
    producers = [await t.produce(kind="video", rtp_parameters=simulcast_video_parameters())
                 for t in transports]
    after_producers = _tracked()
    consumers = [await recv.consume(producer_id=producer.id,
                                    rtp_capabilities=router.rtp_capabilities)
                 for _ in range(count)]
    after_consumers = _tracked()
    per_transport = (after_transports - before) / count
    per_producer = (after_producers - after_transports) / count
    per_consumer = (after_consumers - after_producers) / count
    assert per_transport <= 12, per_transport
    assert per_producer <= 37, per_producer
    assert per_consumer <= 27, per_consumer
    assert len(producers) == len(consumers) == count
    router.close()
    assert all(t.closed for t in transports) and router.transports == {}


async def test_closed_objects_are_freed_without_the_cycle_collector(worker):
    """A transport, producer or consumer created and closed leaves no reference cycle: it is
    freed when its last reference goes, not by a collection (before, each one and its
    listener closures were cyclic garbage: 35, 38 and 28 objects for the collector to find,
    about one generation-0 collection every 20 create/close pairs)."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    video = await send.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    makers = {
        "transport": lambda: router.create_webrtc_transport(listen_infos=LOOPBACK_UDP),
        "producer": lambda: recv.produce(kind="audio", rtp_parameters=audio_parameters()),
        "consumer": lambda: recv.consume(producer_id=video.id,
                                         rtp_capabilities=router.rtp_capabilities),
    }
    for name, make in makers.items():
        (await make()).close()  # first sight: caches and templates are made
        await worker.get_resource_usage()
        gc.collect()
        gc.disable()
        try:
            for _ in range(20):
                (await make()).close()
                await worker.get_resource_usage()
            gc.set_debug(gc.DEBUG_SAVEALL)
            found = gc.collect()
            ours = [type(obj).__name__ for obj in gc.garbage
                    if type(obj).__module__.startswith("mediasoup_ctl")]
        finally:
            gc.garbage.clear()
            gc.set_debug(0)
            gc.enable()
        assert not ours, (name, ours)
        assert found < 20, (name, found)
    assert router.transports.keys() == {send.id, recv.id}
