"""Typed shapes of the dicts that cross the wire, in mediasoup's exact JSON form (camelCase).

These are ``TypedDict`` s, not classes with behaviour: values stay plain dicts so they pass
unchanged to mediasoup-client, pymediasoup and the worker's serializers. Optional keys are the
ones mediasoup's TypeScript types mark optional; ``ortc.validate_*`` fills their defaults.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "MediaKind",
    "RtpHeaderExtensionDirection",
    "RtcpFeedback",
    "RtpCodecCapability",
    "RtpHeaderExtension",
    "RtpCapabilities",
    "RtpCodecParameters",
    "RtpHeaderExtensionParameters",
    "RtpEncodingRtx",
    "RtpEncodingParameters",
    "RtcpParameters",
    "RtpParameters",
    "RtpCodecMapping",
    "RtpEncodingMapping",
    "RtpMapping",
    "ScalabilityMode",
    "NumSctpStreams",
    "SctpCapabilities",
    "SctpParameters",
    "SctpStreamParameters",
    "IceParameters",
    "IceCandidate",
    "DtlsFingerprint",
    "DtlsParameters",
    "SrtpParameters",
    "TransportListenInfo",
    "TransportTuple",
]

MediaKind = Literal["audio", "video"]
RtpHeaderExtensionDirection = Literal["sendrecv", "sendonly", "recvonly", "inactive"]


class RtcpFeedback(TypedDict):
    """One RTCP feedback mechanism (``nack``, ``nack pli``, ``ccm fir``, ``transport-cc`` …)."""

    type: str
    parameter: NotRequired[str]


class RtpCodecCapability(TypedDict):
    """A codec a router or endpoint supports (an entry of ``RtpCapabilities.codecs``)."""

    kind: MediaKind
    mimeType: str
    preferredPayloadType: NotRequired[int]
    clockRate: int
    channels: NotRequired[int]
    parameters: NotRequired[dict[str, Any]]
    rtcpFeedback: NotRequired[list[RtcpFeedback]]


class RtpHeaderExtension(TypedDict):
    """A header extension an endpoint supports, with its preferred id and direction."""

    kind: MediaKind
    uri: str
    preferredId: int
    preferredEncrypt: NotRequired[bool]
    direction: NotRequired[RtpHeaderExtensionDirection]


class RtpCapabilities(TypedDict, total=False):
    """What a router (or a receiving endpoint) can handle."""

    codecs: list[RtpCodecCapability]
    headerExtensions: list[RtpHeaderExtension]


class RtpCodecParameters(TypedDict):
    """A codec as used by one stream, with its negotiated payload type."""

    mimeType: str
    payloadType: int
    clockRate: int
    channels: NotRequired[int]
    parameters: NotRequired[dict[str, Any]]
    rtcpFeedback: NotRequired[list[RtcpFeedback]]


class RtpHeaderExtensionParameters(TypedDict):
    """A header extension as used by one stream."""

    uri: str
    id: int
    encrypt: NotRequired[bool]
    parameters: NotRequired[dict[str, Any]]


class RtpEncodingRtx(TypedDict):
    """The RTX stream of an encoding."""

    ssrc: int


class RtpEncodingParameters(TypedDict, total=False):
    """One encoding (simulcast layer or the single stream) of a Producer or Consumer."""

    ssrc: int
    rid: str
    codecPayloadType: int
    rtx: RtpEncodingRtx
    dtx: bool
    scalabilityMode: str
    scaleResolutionDownBy: float
    maxBitrate: int


class RtcpParameters(TypedDict, total=False):
    """RTCP settings of a stream."""

    cname: str
    reducedSize: bool


class RtpParameters(TypedDict):
    """What a Producer sends or a Consumer receives."""

    mid: NotRequired[str]
    codecs: list[RtpCodecParameters]
    headerExtensions: NotRequired[list[RtpHeaderExtensionParameters]]
    encodings: NotRequired[list[RtpEncodingParameters]]
    rtcp: NotRequired[RtcpParameters]


class RtpCodecMapping(TypedDict):
    """A Producer payload type and the router payload type it is rewritten to."""

    payloadType: int
    mappedPayloadType: int


class RtpEncodingMapping(TypedDict, total=False):
    """A Producer encoding and the SSRC the router uses for it."""

    ssrc: int
    rid: str
    scalabilityMode: str
    mappedSsrc: int


class RtpMapping(TypedDict):
    """How the worker rewrites a Producer's payload types and SSRCs (sent with ``produce``)."""

    codecs: list[RtpCodecMapping]
    encodings: list[RtpEncodingMapping]


class ScalabilityMode(TypedDict):
    """A parsed ``scalabilityMode`` such as ``L3T3_KEY``."""

    spatialLayers: int
    temporalLayers: int
    ksvc: bool


class NumSctpStreams(TypedDict):
    """Outgoing (``OS``) and maximum incoming (``MIS``) SCTP stream counts."""

    OS: int
    MIS: int


class SctpCapabilities(TypedDict):
    """SCTP capabilities of an endpoint."""

    numStreams: NumSctpStreams


class SctpParameters(TypedDict):
    """SCTP association parameters of a transport."""

    port: int
    OS: int
    MIS: int
    maxMessageSize: int


class SctpStreamParameters(TypedDict):
    """One SCTP stream (a DataProducer's or DataConsumer's)."""

    streamId: int
    ordered: NotRequired[bool]
    maxPacketLifeTime: NotRequired[int]
    maxRetransmits: NotRequired[int]


class IceParameters(TypedDict):
    """ICE credentials of a WebRtcTransport."""

    usernameFragment: str
    password: str
    iceLite: NotRequired[bool]


class IceCandidate(TypedDict):
    """A local ICE candidate of a WebRtcTransport."""

    foundation: str
    priority: int
    ip: str
    address: str
    protocol: Literal["udp", "tcp"]
    port: int
    type: Literal["host"]
    tcpType: NotRequired[Literal["passive"]]


class DtlsFingerprint(TypedDict):
    """A certificate fingerprint (``sha-256`` …) as hex pairs separated by colons."""

    algorithm: str
    value: str


class DtlsParameters(TypedDict):
    """DTLS role and fingerprints of one side."""

    role: NotRequired[Literal["auto", "client", "server"]]
    fingerprints: list[DtlsFingerprint]


class SrtpParameters(TypedDict):
    """SRTP crypto suite and base64 key (PlainTransport and PipeTransport)."""

    cryptoSuite: str
    keyBase64: str


class TransportListenInfo(TypedDict):
    """Where a transport listens."""

    protocol: Literal["udp", "tcp"]
    ip: str
    announcedAddress: NotRequired[str]
    announcedIp: NotRequired[str]
    port: NotRequired[int]
    portRange: NotRequired[dict[str, int]]
    flags: NotRequired[dict[str, bool]]
    sendBufferSize: NotRequired[int]
    recvBufferSize: NotRequired[int]


class TransportTuple(TypedDict):
    """A transport's local/remote address tuple."""

    localIp: str
    localAddress: str
    localPort: int
    remoteIp: NotRequired[str]
    remotePort: NotRequired[int]
    protocol: Literal["udp", "tcp"]
