"""The SDP FFmpeg reads to receive one consumer's RTP from a PlainTransport.

Pure functions. The consumer is created with capabilities that hold no RTX and no header
extensions (:func:`recording_capabilities`), so exactly one codec arrives: the one the SDP
names. FFmpeg has no ``a=rtcp-mux``: it binds the RTP port and, for RTCP, the port named by
``a=rtcp``; mediasoup sends both RTP and RTCP to the RTP port (rtcp-mux), and FFmpeg's RTP
demuxer handles RTCP packets arriving there.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RECORDABLE_MIME_TYPES", "consumer_sdp", "recording_capabilities"]

RECORDABLE_MIME_TYPES = ("audio/opus", "video/vp8", "video/vp9", "video/h264")
"""Codecs FFmpeg depacketizes and Matroska holds."""


def recording_capabilities(router_capabilities: dict[str, Any]) -> dict[str, Any]:
    """The router's codecs a recorder can take (no RTX, no header extensions, no feedback
    beyond key frame requests): what its consumers are created with."""
    codecs = []
    for codec in router_capabilities.get("codecs", []):
        if codec["mimeType"].lower() not in RECORDABLE_MIME_TYPES:
            continue
        feedback = [fb for fb in codec.get("rtcpFeedback", [])
                    if fb.get("type") in ("ccm", "nack") and fb.get("parameter") in ("fir", "pli")]
        codecs.append({**codec, "rtcpFeedback": feedback})
    return {"codecs": codecs, "headerExtensions": []}


def _fmtp(parameters: dict[str, Any]) -> str:
    return ";".join(f"{key}={value}" for key, value in sorted(parameters.items()))


def consumer_sdp(*, kind: str, rtp_parameters: dict[str, Any], rtp_port: int, rtcp_port: int,
                 address: str = "127.0.0.1") -> str:
    """An SDP with one media section for the consumer's (first) codec on ``rtp_port``."""
    codec = rtp_parameters["codecs"][0]
    mime = codec["mimeType"]
    if mime.lower() not in RECORDABLE_MIME_TYPES:
        raise ValueError(f"cannot record {mime}")
    name = mime.split("/", 1)[1]
    payload_type = int(codec["payloadType"])
    rtpmap = f"{name}/{codec['clockRate']}"
    if kind == "audio":
        rtpmap += f"/{codec.get('channels', 2)}"
    lines = [
        "v=0",
        f"o=- 0 0 IN IP4 {address}",
        "s=conference recording",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m={kind} {rtp_port} RTP/AVP {payload_type}",
        f"a=rtcp:{rtcp_port}",
        f"a=rtpmap:{payload_type} {rtpmap}",
    ]
    parameters = codec.get("parameters") or {}
    if parameters:
        lines.append(f"a=fmtp:{payload_type} {_fmtp(parameters)}")
    lines.append("a=recvonly")
    return "\r\n".join(lines) + "\r\n"

