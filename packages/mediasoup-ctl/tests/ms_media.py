"""Shared media descriptions for the library's tests (plain data, mediasoup's JSON shape),
and the wait the media tests use until frames have been decoded."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

MEDIA_CODECS: list[dict[str, Any]] = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000,
     "parameters": {"x-google-start-bitrate": 1000}},
    {"kind": "video", "mimeType": "video/H264", "clockRate": 90000,
     "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f",
                    "level-asymmetry-allowed": 1}},
]


def audio_parameters(ssrc: int = 11111111, mid: str = "AUDIO") -> dict[str, Any]:
    """Opus as a browser would send it (payload type 111)."""
    return {
        "mid": mid,
        "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000,
                    "channels": 2, "parameters": {"useinbandfec": 1, "usedtx": 1},
                    "rtcpFeedback": [{"type": "transport-cc"}]}],
        "headerExtensions": [
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1},
            {"uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "id": 10},
        ],
        "encodings": [{"ssrc": ssrc}],
        "rtcp": {"cname": "audio-cname", "reducedSize": True},
    }


def simulcast_video_parameters(mid: str = "VIDEO") -> dict[str, Any]:
    """VP8 simulcast with three RIDs and RTX, as Chrome sends it."""
    return {
        "mid": mid,
        "codecs": [
            {"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000,
             "rtcpFeedback": [{"type": "nack"}, {"type": "nack", "parameter": "pli"},
                              {"type": "ccm", "parameter": "fir"},
                              {"type": "goog-remb"}, {"type": "transport-cc"}]},
            {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000,
             "parameters": {"apt": 96}},
        ],
        "headerExtensions": [
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4},
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "id": 5},
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", "id": 6},
            {"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 2},
        ],
        "encodings": [
            {"rid": "r0", "scalabilityMode": "L1T3", "maxBitrate": 100000},
            {"rid": "r1", "scalabilityMode": "L1T3", "maxBitrate": 300000},
            {"rid": "r2", "scalabilityMode": "L1T3", "maxBitrate": 900000},
        ],
        "rtcp": {"cname": "video-cname"},
    }


LOOPBACK_UDP = [{"protocol": "udp", "ip": "127.0.0.1"}]


async def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` every 0.1 s until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


def free_udp_tcp_port() -> int:
    """A loopback port free for both UDP and TCP right now (a WebRtcServer binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free UDP+TCP port")
