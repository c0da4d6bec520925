"""Hand-made RTP for tests: packets, an Opus producer description, a UDP collector."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
OPUS_SILENCE = b"\xf8\xff\xfe"


def rtp_packet(seq: int, timestamp: int, ssrc: int, pt: int = 100,
               audio_level: int | None = None, payload: bytes = OPUS_SILENCE) -> bytes:
    """RTP v2; with ``audio_level`` (0..127, -dBov) a one-byte header extension id 10."""
    first = 0x80
    extension = b""
    if audio_level is not None:
        first |= 0x10
        element = bytes([(10 << 4) | 0, 0x80 | audio_level, 0, 0])  # id 10, len 1, padded
        extension = struct.pack("!HH", 0xBEDE, 1) + element
    header = struct.pack("!BBHII", first, pt & 0x7F, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    return header + extension + payload


def opus_parameters(ssrc: int, *, audio_level: bool = False) -> dict[str, Any]:
    """A plain Opus producer (PT 100) with a fixed SSRC."""
    params: dict[str, Any] = {
        "codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000,
                    "channels": 2}],
        "encodings": [{"ssrc": ssrc}],
        "rtcp": {"cname": f"plain-{ssrc}"},
    }
    if audio_level:
        params["headerExtensions"] = [{"uri": AUDIO_LEVEL_URI, "id": 10}]
    return params


class Collector(asyncio.DatagramProtocol):
    """Keeps every datagram received."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets.append(data)

    def rtp(self) -> list[bytes]:
        """The RTP packets (RTCP has payload types 200-204 in the second byte)."""
        return [p for p in self.packets if len(p) >= 12 and not 192 <= p[1] <= 223]


async def collector(port: int = 0) -> tuple[asyncio.DatagramTransport, Collector]:
    """A UDP socket on 127.0.0.1 collecting what it receives."""
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(Collector, local_addr=("127.0.0.1", port))
