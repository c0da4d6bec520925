"""Shared media descriptions for the library's tests (plain data, mediasoup's JSON shape);
the router codecs and the decode wait come from the library's pytest plugin
(`mediasoup_ctl.testing`), which the application's media tests use too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mediasoup_ctl.testing import MEDIA_CODECS, free_udp_tcp_port, wait_for

__all__ = ["LOOPBACK_UDP", "MEDIA_CODECS", "audio_parameters", "free_udp_tcp_port",
           "simulcast_video_parameters", "wait_for"]



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


class SequentialNumbers:
    """A deterministic ``generate_random_number`` from ``base`` up, remembering what it gave."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.given: list[int] = []

    def __call__(self) -> int:
        value = self.base + 1000 * len(self.given)
        self.given.append(value)
        return value


def spy(monkeypatch: Any, module: Any,
        name: str) -> tuple[list[tuple[Any, ...]], Callable[..., Any]]:
    """Replace ``module.name`` by a function that records each call's arguments (positional,
    then the keyword values) and calls the real one; the records and the real function."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(module, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append((*args, *kwargs.values()))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls, real
