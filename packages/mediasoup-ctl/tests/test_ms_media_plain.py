"""Plain RTP through the worker: UDP in on one PlainTransport, out of a consumer on another."""

from __future__ import annotations

import asyncio
import socket
import struct

from ms_media import MEDIA_CODECS

OPUS_SSRC = 0x11223344
LOOPBACK = {"protocol": "udp", "ip": "127.0.0.1"}


def rtp_packet(seq: int, timestamp: int, ssrc: int = OPUS_SSRC, pt: int = 100) -> bytes:
    """An RTP packet: version 2, no extensions, a 20 ms Opus silence frame as payload."""
    header = struct.pack("!BBHII", 0x80, pt & 0x7F, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    return header + b"\xf8\xff\xfe"


def opus_parameters() -> dict:
    return {
        "codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000,
                    "channels": 2}],
        "encodings": [{"ssrc": OPUS_SSRC}],
        "rtcp": {"cname": "plain-sender"},
    }


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def datagram_received(self, data: bytes, addr) -> None:
        self.packets.append(data)


async def test_rtp_fed_into_a_plain_transport_comes_out_of_a_consumer(worker):
    """Loopback RTP (Opus PT 100, fixed SSRC) is produced, routed and received on UDP."""
    loop = asyncio.get_running_loop()
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    ingress = await router.create_plain_transport(listen_info=LOOPBACK, comedia=True)
    egress = await router.create_plain_transport(listen_info=LOOPBACK, rtcp_mux=True)
    assert ingress.tuple["localAddress"] == "127.0.0.1" and ingress.tuple["localPort"] > 0
    assert ingress.comedia and ingress.rtcp_mux and not egress.comedia
    producer = await ingress.produce(kind="audio", rtp_parameters=opus_parameters())
    receiver, collector = await loop.create_datagram_endpoint(
        _Collector, local_addr=("127.0.0.1", 0))
    recv_port = receiver.get_extra_info("sockname")[1]
    await egress.connect(ip="127.0.0.1", port=recv_port)
    assert egress.tuple["remoteIp"] == "127.0.0.1" and egress.tuple["remotePort"] == recv_port
    consumer = await egress.consume(producer_id=producer.id,
                                    rtp_capabilities=router.rtp_capabilities, paused=True)
    await consumer.resume()
    tuples = []
    ingress.on("tuple", tuples.append)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    sender_port = sender.getsockname()[1]
    try:
        for i in range(50):
            sender.sendto(rtp_packet(1000 + i, 960 * i),
                          ("127.0.0.1", ingress.tuple["localPort"]))
            await asyncio.sleep(0.005)
        for _ in range(50):
            if len(collector.packets) >= 40:
                break
            await asyncio.sleep(0.02)
    finally:
        sender.close()
        receiver.close()
    rtp = [p for p in collector.packets if 96 <= (p[1] & 0x7F) <= 127]
    assert len(rtp) >= 40, f"received {len(collector.packets)} packets"
    out_ssrc = consumer.rtp_parameters["encodings"][0]["ssrc"]
    out_pt = consumer.rtp_parameters["codecs"][0]["payloadType"]
    first = rtp[0]
    assert first[0] >> 6 == 2 and first[1] & 0x7F == out_pt
    assert struct.unpack("!I", first[8:12])[0] == out_ssrc
    assert first.endswith(b"\xf8\xff\xfe")
    # comedia: the worker learnt the sender's address from its first packet.
    assert tuples and tuples[0]["remotePort"] == sender_port
    assert ingress.tuple["remoteIp"] == "127.0.0.1" and ingress.tuple["remotePort"] == sender_port
    [recv_stats] = await producer.get_stats()
    assert recv_stats["packetCount"] == 50 and recv_stats["ssrc"] == OPUS_SSRC
    out_stats = [s for s in await consumer.get_stats() if s["type"] == "outbound-rtp"]
    assert out_stats[0]["packetCount"] >= 40
    [egress_stats] = await egress.get_stats()
    assert egress_stats["type"] == "plain-rtp-transport" and egress_stats["rtpBytesSent"] > 0
