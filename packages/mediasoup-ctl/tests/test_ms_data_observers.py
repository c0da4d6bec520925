"""SCTP data producers/consumers and the RTP observers against the real worker."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mediasoup_ctl import InvalidParameterError, UnsupportedError
from ms_media import LOOPBACK_UDP, MEDIA_CODECS
from ms_rtp import opus_parameters, rtp_packet

LOOPBACK = {"protocol": "udp", "ip": "127.0.0.1"}


async def test_sctp_data_producer_and_consumer_lifecycle(worker):
    """produce_data/consume_data over SCTP: stream ids, stats, pause, events, cascades."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP, enable_sctp=True)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP, enable_sctp=True,
                                                num_sctp_streams={"OS": 4, "MIS": 4})
    no_sctp = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    with pytest.raises(InvalidParameterError):
        await send.produce_data(sctp_stream_parameters={"ordered": True})
    data_producer = await send.produce_data(
        sctp_stream_parameters={"streamId": 7, "ordered": False, "maxRetransmits": 3},
        label="chat", protocol="json", app_data={"x": 1})
    assert data_producer.type == "sctp"
    assert data_producer.sctp_stream_parameters == {"streamId": 7, "ordered": False,
                                                    "maxRetransmits": 3}
    first = await recv.consume_data(data_producer_id=data_producer.id)
    second = await recv.consume_data(data_producer_id=data_producer.id, ordered=True)
    assert first.sctp_stream_parameters["streamId"] == 0
    assert first.sctp_stream_parameters["maxRetransmits"] == 3
    assert second.sctp_stream_parameters == {"streamId": 1, "ordered": True}
    assert (first.label, first.protocol, first.data_producer_id) == ("chat", "json",
                                                                     data_producer.id)
    with pytest.raises(UnsupportedError):
        await no_sctp.consume_data(data_producer_id=data_producer.id)
    with pytest.raises(UnsupportedError):
        await recv.consume_data(data_producer_id="nope")
    [stats] = await first.get_stats()
    assert stats["type"] == "data-consumer" and stats["messagesSent"] == 0
    assert await first.get_buffered_amount() == 0
    await first.set_buffered_amount_low_threshold(1000)
    assert (await first.dump())["bufferedAmountLowThreshold"] == 1000
    await first.set_subchannels([1, 2])
    await first.add_subchannel(3)
    await first.remove_subchannel(1)
    assert sorted(first.subchannels) == [2, 3]
    paused = []
    first.on("dataproducerpause", lambda: paused.append("pause"))
    first.on("dataproducerresume", lambda: paused.append("resume"))
    await data_producer.pause()
    await data_producer.resume()
    await asyncio.sleep(0.05)
    assert paused == ["pause", "resume"]
    # A closed consumer frees its stream id; the next one reuses the lowest free id.
    first.close()
    third = await recv.consume_data(data_producer_id=data_producer.id)
    fourth = await recv.consume_data(data_producer_id=data_producer.id)
    assert {third.sctp_stream_parameters["streamId"],
            fourth.sctp_stream_parameters["streamId"]} == {2, 3}
    assert sorted((await router.dump())["mapDataConsumerIdDataProducerId"],
                  key=lambda kv: kv["key"]) == sorted(
        [{"key": c.id, "value": data_producer.id} for c in (second, third, fourth)],
        key=lambda kv: kv["key"])
    events = []
    second.on("transportclose", lambda: events.append("transportclose"))
    third.on("dataproducerclose", lambda: events.append("dataproducerclose"))
    send.close()  # closes the data producer; the worker tells its consumers
    await asyncio.sleep(0.05)
    assert events == ["dataproducerclose"]
    recv.close()
    assert events == ["dataproducerclose"]  # the rest closed with the producer already
    assert data_producer.closed and second.closed and fourth.closed


async def _feed_audio(port: int, ssrc: int, level: int, count: int, start: int = 0) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(start, start + count):
            sock.sendto(rtp_packet(i, 960 * i, ssrc, audio_level=level), ("127.0.0.1", port))
            await asyncio.sleep(0.02)
    finally:
        sock.close()


async def test_audio_level_and_active_speaker_observers(worker):
    """Volumes, silence and the dominant speaker follow the audio-level RTP extension."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    with pytest.raises(InvalidParameterError):
        await router.create_audio_level_observer(threshold=10)
    with pytest.raises(InvalidParameterError):
        await router.create_active_speaker_observer(interval=0)
    level = await router.create_audio_level_observer(max_entries=2, threshold=-70,
                                                     interval=200)
    speaker = await router.create_active_speaker_observer(interval=100)
    loud_in = await router.create_plain_transport(listen_info=LOOPBACK, comedia=True)
    quiet_in = await router.create_plain_transport(listen_info=LOOPBACK, comedia=True)
    loud = await loud_in.produce(kind="audio", rtp_parameters=opus_parameters(
        0x5001, audio_level=True))
    quiet = await quiet_in.produce(kind="audio", rtp_parameters=opus_parameters(
        0x5002, audio_level=True))
    added = []
    level.observer.on("addproducer", added.append)
    for producer in (loud, quiet):
        await level.add_producer(producer_id=producer.id)
    # The speaker observer watches the loud producer only, so its choice is deterministic.
    await speaker.add_producer(producer_id=loud.id)
    assert added == [loud, quiet]
    with pytest.raises(UnsupportedError):
        await level.add_producer(producer_id="nope")
    observers_of = {kv["key"]: sorted(kv["values"])
                    for kv in (await router.dump())["mapProducerIdObserverIds"]}
    assert observers_of == {loud.id: sorted([level.id, speaker.id]), quiet.id: [level.id]}
    volumes: list[list[dict]] = []
    silences: list[bool] = []
    dominant: list[str] = []
    level.on("volumes", volumes.append)
    level.on("silence", lambda: silences.append(True))
    speaker.on("dominantspeaker", lambda d: dominant.append(d["producer"].id))
    await asyncio.gather(_feed_audio(loud_in.tuple["localPort"], 0x5001, 10, 60),
                         _feed_audio(quiet_in.tuple["localPort"], 0x5002, 60, 60))
    assert volumes, "no volumes event"
    top = volumes[-1]
    assert top[0]["producer"] is loud and top[0]["volume"] == -10
    assert [v["producer"] for v in top] == [loud, quiet] and top[1]["volume"] == -60
    assert dominant and set(dominant) == {loud.id}
    await asyncio.sleep(0.5)  # nothing sent: silence
    assert silences
    await level.pause()
    assert level.paused
    await level.resume()
    await level.remove_producer(producer_id=quiet.id)
    closed = []
    speaker.on("routerclose", lambda: closed.append("speaker"))
    level.close()
    assert level.closed and (await router.dump())["rtpObserverIds"] == [speaker.id]
    router.close()
    assert closed == ["speaker"] and speaker.closed
