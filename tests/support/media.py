"""RTP parameters the tests send, shaped as a browser's (one SSRC counter for the process, so
two tests' producers never share an SSRC)."""

from __future__ import annotations

import itertools
from typing import Any

__all__ = ["simulcast_parameters"]

_ssrc = itertools.count(20_000_000, 10)


def simulcast_parameters(cname: str = "dynacast") -> dict[str, Any]:
    """VP8 in three simulcast encodings, as a browser sends its camera."""
    first = next(_ssrc)
    return {
        "mid": "2",
        "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000,
                    "rtcpFeedback": [{"type": "nack", "parameter": "pli"},
                                     {"type": "transport-cc"}]}],
        "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1}],
        "encodings": [{"ssrc": first + i, "scalabilityMode": "L1T3"} for i in range(3)],
        "rtcp": {"cname": cname},
    }
