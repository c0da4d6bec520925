"""Producers and consumers against the real worker: parameters, requests, events, cascades."""

from __future__ import annotations

import asyncio

import pytest

from mediasoup_ctl import InvalidParameterError, InvalidStateError, UnsupportedError
from ms_media import LOOPBACK_UDP, MEDIA_CODECS, audio_parameters, simulcast_video_parameters


async def _setup(worker):
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    return router, send, recv


async def _audio_consumed(worker):
    """``_setup``'s router and transports, an audio producer on ``send``, its consumer on
    ``recv``."""
    router, send, recv = await _setup(worker)
    audio = await send.produce(kind="audio", rtp_parameters=audio_parameters())
    consumer = await recv.consume(producer_id=audio.id, rtp_capabilities=router.rtp_capabilities)
    return router, send, recv, audio, consumer


async def test_produce_maps_onto_the_router(worker):
    """A producer gets its type and consumable parameters in the router's payload types."""
    router, send, _ = await _setup(worker)
    audio = await send.produce(kind="audio", rtp_parameters=audio_parameters(),
                               app_data={"source": "mic"})
    video = await send.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    assert (audio.type, video.type) == ("simple", "simulcast")
    assert audio.kind == "audio" and audio.app_data == {"source": "mic"} and not audio.paused
    opus_pt = next(c["preferredPayloadType"] for c in router.rtp_capabilities["codecs"]
                   if c["mimeType"] == "audio/opus")
    assert audio.consumable_rtp_parameters["codecs"][0]["payloadType"] == opus_pt
    assert len(video.consumable_rtp_parameters["encodings"]) == 3
    # One CNAME per transport, taken from the first producer that brings one.
    assert audio.rtp_parameters["rtcp"]["cname"] == "audio-cname"
    assert video.rtp_parameters["rtcp"]["cname"] == "audio-cname"
    assert send.producers.keys() == {audio.id, video.id}
    dump = await video.dump()
    assert dump["type"] == "simulcast" and len(dump["rtpMapping"]["encodings"]) == 3
    assert await video.get_stats() == []  # nothing received yet
    assert sorted((await send.dump())["producerIds"]) == sorted([audio.id, video.id])


async def test_produce_refuses_bad_input_before_sending(worker):
    """Invalid kind, parameters, or codecs the router lacks fail and create nothing."""
    router, send, _ = await _setup(worker)
    with pytest.raises(InvalidParameterError):
        await send.produce(kind="data", rtp_parameters=audio_parameters())
    with pytest.raises(InvalidParameterError):
        await send.produce(kind="audio", rtp_parameters={"codecs": "opus"})
    g722 = audio_parameters()
    g722["codecs"][0].update(mimeType="audio/G722", clockRate=8000, channels=1)
    with pytest.raises(UnsupportedError):
        await send.produce(kind="audio", rtp_parameters=g722)
    producer = await send.produce(kind="audio", rtp_parameters=audio_parameters(), id="fixed")
    with pytest.raises(InvalidParameterError):
        await send.produce(kind="audio", rtp_parameters=audio_parameters(), id="fixed")
    assert (await send.dump())["producerIds"] == [producer.id]


async def test_consumer_starts_paused_and_follows_requests(worker):
    """consume(paused=True), resume, pause, layers, priority and key frames work."""
    router, send, recv = await _setup(worker)
    video = await send.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    assert router.can_consume(producer_id=video.id, rtp_capabilities=router.rtp_capabilities)
    assert not router.can_consume(producer_id="nope", rtp_capabilities=router.rtp_capabilities)
    consumer = await recv.consume(producer_id=video.id, rtp_capabilities=router.rtp_capabilities,
                                  paused=True, app_data={"k": 1})
    assert consumer.paused and not consumer.producer_paused
    assert (consumer.kind, consumer.type, consumer.producer_id) == ("video", "simulcast",
                                                                     video.id)
    assert consumer.rtp_parameters["mid"] == "0"
    assert [c["mimeType"] for c in consumer.rtp_parameters["codecs"]] == ["video/VP8",
                                                                          "video/rtx"]
    assert consumer.rtp_parameters["encodings"][0]["scalabilityMode"] == "L3T3"
    observed = []
    consumer.observer.on("resume", lambda: observed.append("resume"))
    consumer.observer.on("pause", lambda: observed.append("pause"))
    await consumer.resume()
    await consumer.pause()
    await consumer.resume()
    assert observed == ["resume", "pause", "resume"] and not consumer.paused
    await consumer.set_preferred_layers(spatial_layer=1, temporal_layer=0)
    assert consumer.preferred_layers == {"spatialLayer": 1, "temporalLayer": 0}
    await consumer.set_priority(3)
    assert consumer.priority == 3
    await consumer.unset_priority()
    assert consumer.priority == 1
    await consumer.request_key_frame()
    await consumer.enable_trace_event(["keyframe", "pli"])
    dump = await consumer.dump()
    assert dump["id"] == consumer.id and dump["type"] == "simulcast"
    assert dump["preferredSpatialLayer"] == 1 and dump["traceEventTypes"] == ["keyframe", "pli"]
    stats = await consumer.get_stats()
    assert stats[0]["type"] == "outbound-rtp" and stats[0]["kind"] == "video"
    with pytest.raises(InvalidParameterError):
        await consumer.set_priority(0)
    with pytest.raises(InvalidParameterError):
        await consumer.set_preferred_layers(spatial_layer="high")  # type: ignore[arg-type]
    second = await recv.consume(producer_id=video.id, rtp_capabilities=router.rtp_capabilities)
    assert second.rtp_parameters["mid"] == "1" and not second.paused


async def test_consume_refuses_unknown_producer_and_bad_capabilities(worker):
    """consume() fails before sending for unknown producers or unusable capabilities."""
    router, send, recv = await _setup(worker)
    audio = await send.produce(kind="audio", rtp_parameters=audio_parameters())
    with pytest.raises(UnsupportedError):
        await recv.consume(producer_id="missing", rtp_capabilities=router.rtp_capabilities)
    with pytest.raises(InvalidParameterError):
        await recv.consume(producer_id=audio.id, rtp_capabilities={"codecs": "x"})
    vp8_only = {"codecs": [c for c in router.rtp_capabilities["codecs"]
                           if c["mimeType"] == "video/VP8"], "headerExtensions": []}
    with pytest.raises(UnsupportedError):
        await recv.consume(producer_id=audio.id, rtp_capabilities=vp8_only)
    assert (await recv.dump())["consumerIds"] == []


async def test_producer_pause_close_reach_consumers(worker):
    """Producer pause/resume/close arrive at the consumer as producerpause/resume/close."""
    router, send, recv, audio, consumer = await _audio_consumed(worker)
    events: list[str] = []
    for name in ("producerpause", "producerresume", "producerclose", "transportclose"):
        consumer.on(name, lambda name=name: events.append(name))
    consumer.observer.on("close", lambda: events.append("observer close"))
    await audio.pause()
    assert audio.paused
    await asyncio.sleep(0.05)
    assert consumer.producer_paused
    await audio.resume()
    await asyncio.sleep(0.05)
    audio.close()
    await asyncio.sleep(0.05)
    assert events == ["producerpause", "producerresume", "producerclose", "observer close"]
    assert consumer.closed and recv.consumers == {}
    assert not router.can_consume(producer_id=audio.id,
                                  rtp_capabilities=router.rtp_capabilities)
    with pytest.raises(InvalidStateError):
        await consumer.resume()
    with pytest.raises(InvalidStateError):
        await audio.get_stats()
    assert (await router.dump())["mapConsumerIdProducerId"] == []


async def test_close_cascades_emit_mediasoup_events(worker):
    """Closing a transport, a router, the worker closes the subtree with the right events."""
    router, send, recv, audio, consumer = await _audio_consumed(worker)
    events: list[str] = []
    audio.on("transportclose", lambda: events.append("producer transportclose"))
    consumer.on("transportclose", lambda: events.append("consumer transportclose"))
    consumer.on("producerclose", lambda: events.append("consumer producerclose"))
    send.close()  # closes the producer locally; the worker closes its consumers
    await asyncio.sleep(0.05)
    assert events == ["producer transportclose", "consumer producerclose"]
    # A listener that raises must not stop the cascade.
    recv.on("routerclose", lambda: 1 / 0)
    recv.on("routerclose", lambda: events.append("recv routerclose"))
    router.on("workerclose", lambda: events.append("router workerclose"))
    router2 = await worker.create_router(media_codecs=MEDIA_CODECS)
    transport2 = await router2.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    producer2 = await transport2.produce(kind="audio", rtp_parameters=audio_parameters())
    transport2.on("routerclose", lambda: events.append("transport2 routerclose"))
    producer2.on("transportclose", lambda: events.append("producer2 transportclose"))
    router2.close()
    assert events[-2:] == ["producer2 transportclose", "transport2 routerclose"]
    assert producer2.closed and transport2.closed and list(worker.routers) == [router.id]
    worker.close()
    assert events[-2:] == ["recv routerclose", "router workerclose"]
    assert recv.closed and router.closed
