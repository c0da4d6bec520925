"""PlainTransport options, pipe_to_router across two workers, DirectTransport."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from mediasoup_ctl import InvalidParameterError, InvalidStateError, UnsupportedError
from ms_media import MEDIA_CODECS
from ms_rtp import collector, opus_parameters, rtp_packet

LOOPBACK = {"protocol": "udp", "ip": "127.0.0.1"}


async def test_plain_transport_options_connect_and_srtp(worker):
    """rtcp_mux off gives an RTCP tuple; connect sets the remote; SRTP keys are exchanged."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    plain = await router.create_plain_transport(listen_info=LOOPBACK, rtcp_mux=False)
    assert not plain.rtcp_mux and plain.rtcp_tuple["localPort"] != plain.tuple["localPort"]
    await plain.connect(ip="127.0.0.1", port=40001, rtcp_port=40002)
    assert plain.tuple["remotePort"] == 40001 and plain.rtcp_tuple["remotePort"] == 40002
    [stats] = await plain.get_stats()
    assert stats["type"] == "plain-rtp-transport" and not stats["rtcpMux"]
    srtp = await router.create_plain_transport(listen_info=LOOPBACK, enable_srtp=True,
                                               srtp_crypto_suite="AEAD_AES_256_GCM")
    assert srtp.srtp_parameters["cryptoSuite"] == "AEAD_AES_256_GCM"
    remote_key = srtp.srtp_parameters["keyBase64"]
    await srtp.connect(ip="127.0.0.1", port=40003, srtp_parameters={
        "cryptoSuite": "AEAD_AES_256_GCM", "keyBase64": remote_key})
    assert (await srtp.dump())["srtpParameters"]["cryptoSuite"] == "AEAD_AES_256_GCM"
    with pytest.raises(InvalidParameterError):
        await router.create_plain_transport(listen_info={"ip": "127.0.0.1"})
    with pytest.raises(InvalidParameterError):
        await router.create_plain_transport(listen_info=LOOPBACK, srtp_crypto_suite="ROT13")
    with pytest.raises(InvalidParameterError):
        await plain.connect(ip="127.0.0.1", port=70000)
    assert sorted((await router.dump())["transportIds"]) == sorted([plain.id, srtp.id])


async def test_pipe_to_router_across_two_workers_carries_rtp(worker, worker2):
    """A producer piped to a router of another worker delivers its RTP there; closing cascades."""
    router_a = await worker.create_router(media_codecs=MEDIA_CODECS)
    router_b = await worker2.create_router(media_codecs=MEDIA_CODECS)
    ingress = await router_a.create_plain_transport(listen_info=LOOPBACK, comedia=True)
    producer = await ingress.produce(kind="audio", rtp_parameters=opus_parameters(0xABCD))
    with pytest.raises(InvalidParameterError):
        await router_a.pipe_to_router(router=router_a, producer_id=producer.id)
    with pytest.raises(UnsupportedError):
        await router_a.pipe_to_router(router=router_b, producer_id="nope")
    result = await router_a.pipe_to_router(router=router_b, producer_id=producer.id)
    pipe_consumer, pipe_producer = result["pipeConsumer"], result["pipeProducer"]
    assert pipe_producer.id == producer.id and pipe_consumer.type == "pipe"
    assert router_b.can_consume(producer_id=producer.id,
                                rtp_capabilities=router_b.rtp_capabilities)
    # The pair of PipeTransports is created once per pair of routers.
    other = await ingress.produce(kind="audio", rtp_parameters=opus_parameters(0xBCDE))
    piped_other = await router_a.pipe_to_router(router=router_b, producer_id=other.id)
    assert piped_other["pipeProducer"].id == other.id
    pipes_a = [t for t in router_a.transports.values() if t.type == "pipe"]
    pipes_b = [t for t in router_b.transports.values() if t.type == "pipe"]
    assert len(pipes_a) == len(pipes_b) == 1
    assert pipes_a[0].tuple["remotePort"] == pipes_b[0].tuple["localPort"]
    egress = await router_b.create_plain_transport(listen_info=LOOPBACK)
    receiver, got = await collector()
    await egress.connect(ip="127.0.0.1", port=receiver.get_extra_info("sockname")[1])
    consumer = await egress.consume(producer_id=producer.id,
                                    rtp_capabilities=router_b.rtp_capabilities)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(40):
            sender.sendto(rtp_packet(i, 960 * i, 0xABCD),
                          ("127.0.0.1", ingress.tuple["localPort"]))
            await asyncio.sleep(0.005)
        for _ in range(50):
            if len(got.rtp()) >= 30:
                break
            await asyncio.sleep(0.02)
    finally:
        sender.close()
        receiver.close()
    assert len(got.rtp()) >= 30
    assert struct.unpack("!I", got.rtp()[0][8:12])[0] == \
        consumer.rtp_parameters["encodings"][0]["ssrc"]
    closed = []
    consumer.on("producerclose", lambda: closed.append("consumer"))
    pipe_producer.observer.on("close", lambda: closed.append("pipe producer"))
    producer.close()
    for _ in range(50):
        if "consumer" in closed:
            break
        await asyncio.sleep(0.02)
    assert closed == ["pipe producer", "consumer"] and pipe_consumer.closed
    # Closing one pipe transport closes its twin in the other worker.
    pipes_a[0].close()
    assert pipes_b[0].closed and not router_a._pipe_pairs and not router_b._pipe_pairs


async def test_direct_transport_rtp_and_data_in_python(worker):
    """producer.send() RTP comes out as consumer 'rtp'; direct data producer send() as 'message'."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    direct = await router.create_direct_transport(max_message_size=4096)
    assert direct.type == "direct" and (await direct.dump())["direct"] is True
    [stats] = await direct.get_stats()
    assert stats["type"] == "direct-transport"
    with pytest.raises(InvalidParameterError):
        await direct.set_max_incoming_bitrate(1000)
    producer = await direct.produce(kind="audio", rtp_parameters=opus_parameters(0x1234))
    consumer = await direct.consume(producer_id=producer.id,
                                    rtp_capabilities=router.rtp_capabilities)
    packets: list[bytes] = []
    consumer.on("rtp", packets.append)
    for i in range(10):
        producer.send(rtp_packet(i, 960 * i, 0x1234))
    data_producer = await direct.produce_data(label="chat", protocol="text")
    assert data_producer.type == "direct" and data_producer.sctp_stream_parameters is None
    data_consumer = await direct.consume_data(data_producer_id=data_producer.id)
    assert data_consumer.type == "direct" and data_consumer.label == "chat"
    messages: list[tuple[bytes, int]] = []
    data_consumer.on("message", lambda data, ppid: messages.append((data, ppid)))
    data_producer.send("hello")
    data_producer.send(b"\x00\x01binary")
    data_producer.send("")
    for _ in range(50):
        if len(packets) >= 10 and len(messages) >= 3:
            break
        await asyncio.sleep(0.02)
    assert len(packets) == 10
    assert struct.unpack("!I", packets[0][8:12])[0] == \
        consumer.rtp_parameters["encodings"][0]["ssrc"]
    assert messages == [(b"hello", 51), (b"\x00\x01binary", 53), (b" ", 56)]
    [dp_stats] = await data_producer.get_stats()
    assert dp_stats["messagesReceived"] == 3 and dp_stats["type"] == "data-producer"
    [dc_stats] = await data_consumer.get_stats()
    assert dc_stats["messagesSent"] == 3
    events = []
    data_consumer.on("dataproducerclose", lambda: events.append("dataproducerclose"))
    data_producer.close()
    await asyncio.sleep(0.05)
    assert events == ["dataproducerclose"] and direct.data_consumers == {}
    with pytest.raises(InvalidStateError):
        data_producer.send("late")
    direct.close()
    assert producer.closed and consumer.closed


async def test_pipe_to_router_pipes_a_data_producer(worker, worker2):
    """A data producer piped to another worker's router keeps its id, label and protocol.

    (Routers of one worker cannot be piped together: the piped object keeps its id, and ids
    are unique per worker, the same limitation as mediasoup's.)
    """
    router_a = await worker.create_router(media_codecs=MEDIA_CODECS)
    router_b = await worker2.create_router(media_codecs=MEDIA_CODECS)
    direct = await router_a.create_direct_transport()
    data_producer = await direct.produce_data(label="chat", protocol="text")
    result = await router_a.pipe_to_router(router=router_b, data_producer_id=data_producer.id)
    piped = result["pipeDataProducer"]
    assert piped.id == data_producer.id and (piped.label, piped.protocol) == ("chat", "text")
    assert result["pipeDataConsumer"].sctp_stream_parameters["streamId"] == 0
    receiver = await router_b.create_direct_transport()
    data_consumer = await receiver.consume_data(data_producer_id=data_producer.id)
    closed = []
    data_consumer.on("dataproducerclose", lambda: closed.append(True))
    data_producer.close()
    for _ in range(50):
        if closed:
            break
        await asyncio.sleep(0.02)
    assert closed and piped.closed and result["pipeDataConsumer"].closed
    with pytest.raises(InvalidParameterError):
        await router_a.pipe_to_router(router=router_b, producer_id="a", data_producer_id="b")


async def test_direct_transport_rtcp_goes_both_ways(worker):
    """send_rtcp() reaches the worker; the PLI a key frame request causes comes out as 'rtcp'."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    direct = await router.create_direct_transport()
    producer = await direct.produce(kind="video", rtp_parameters={
        "codecs": [{"mimeType": "video/VP8", "payloadType": 101, "clockRate": 90000,
                    "rtcpFeedback": [{"type": "nack", "parameter": "pli"}]}],
        "encodings": [{"ssrc": 0x4321}]})
    consumer = await direct.consume(producer_id=producer.id,
                                    rtp_capabilities=router.rtp_capabilities)
    rtcp: list[bytes] = []
    direct.on("rtcp", rtcp.append)
    # An RTCP receiver report (PT 201) with no report blocks.
    direct.send_rtcp(struct.pack("!BBHI", 0x80, 201, 1, 0x4321))
    vp8 = b"\x10" + bytes(20)  # payload descriptor (start of partition) + dummy data
    for i in range(5):
        producer.send(rtp_packet(i, 3000 * i, 0x4321, pt=101, payload=vp8))
    await consumer.request_key_frame()
    for _ in range(50):
        if rtcp:
            break
        await asyncio.sleep(0.02)
    [stats] = await direct.get_stats()
    assert stats["rtpBytesReceived"] > 0
    # A payload-specific feedback packet (PT 206, FMT 1 = PLI) for the producer's SSRC.
    assert rtcp and rtcp[0][1] == 206 and rtcp[0][0] & 0x1F == 1
    assert struct.unpack("!I", rtcp[0][8:12])[0] == 0x4321
    with pytest.raises(InvalidParameterError):
        direct.send_rtcp("text")  # type: ignore[arg-type]
