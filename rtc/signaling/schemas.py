"""Schemas of the rtc:* requests: each request's ``data`` checked and turned into a dataclass.

Pure functions, no Django, no worker. Every check that needs only the message is done here
(shape, types, sizes, enumerations, id syntax), so the handlers receive typed values and the
service layer only checks what needs state (does this id belong to this peer and meeting?).
Deep mediasoup shapes (RTP parameters and capabilities) are bounded here (JSON types, depth,
node count, list lengths) and validated field by field by ``mediasoup_ctl.ortc`` before
anything reaches the worker.

Unknown keys are refused at the top level of ``data`` and in the small fixed objects
(DTLS parameters, SCTP capabilities, resume), so a client typo is reported, not ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.fields import (
    as_object,
    boolean,
    check_json,
    identifier,
    integer,
    invalid,
    list_of_objects,
    only_keys,
    string,
)

__all__ = [
    "SOURCES",
    "SOURCE_KIND",
    "Request",
    "JoinRequest",
    "CreateTransportRequest",
    "ConnectTransportRequest",
    "ProduceRequest",
    "ConsumeRequest",
    "ConsumerRequest",
    "ProducerRequest",
    "SetPreferredLayersRequest",
    "TransportRequest",
    "GetStatsRequest",
    "LeaveRequest",
    "HostRemovePeerRequest",
    "PARSERS",
    "parse_request",
    "check_json",
]

MAX_DISPLAY_NAME = 64
MAX_DEVICE_KEYS = 8
MAX_DEVICE_VALUE = 64
MAX_TOKEN_LENGTH = 128
MAX_APP_DATA_BYTES = 1024
MAX_RTP_JSON_BYTES = 32 * 1024
MAX_CAPABILITIES_JSON_BYTES = 48 * 1024
MAX_LAYER = 15

# appData.source: what the UI shows a stream as; it fixes the kind.
SOURCE_KIND: dict[str, str] = {
    "mic": "audio",
    "webcam": "video",
    "screen": "video",
    "screen-audio": "audio",
}
SOURCES = tuple(SOURCE_KIND)
DIRECTIONS = ("send", "recv")
KINDS = ("audio", "video")
DTLS_ROLES = ("auto", "client", "server")
FINGERPRINT_ALGORITHMS = ("sha-1", "sha-224", "sha-256", "sha-384", "sha-512")
FINGERPRINT_PATTERN = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}")
# Bidirectional overrides let a display name render as something else; refuse them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _app_data(data: Mapping[str, Any], kind: str | None = None) -> dict[str, Any]:
    """Client-chosen labels for a producer; ``source`` (if any) must match the kind."""
    value = data.get("appData")
    if value is None:
        return {}
    app_data = as_object(value, "appData")
    check_json(app_data, "appData", max_bytes=MAX_APP_DATA_BYTES, max_depth=3, max_string=256)
    if "source" in app_data:
        source = string(app_data, "source", choices=SOURCES)
        if kind is not None and SOURCE_KIND[source or ""] != kind:
            raise invalid(f"appData.source {source} does not match kind {kind}")
    return app_data


# --- Requests --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """Base of every parsed request."""


@dataclass(frozen=True, slots=True)
class JoinRequest(Request):
    """``rtc:join``: enter the call of the socket's meeting, or resume a dropped peer."""

    display_name: str
    """Shown to the other peers; 1-64 printable characters."""
    device: dict[str, str] = field(default_factory=dict)
    """What the client runs on (``flag``, ``name``, ``version``), for the UI and logs."""
    resume_peer_id: str | None = None
    """A peer of this user, disconnected less than the grace period ago, to take over."""
    resume_token: str | None = None
    """The secret ``resumeToken`` that ``rtc:joined`` gave that peer."""


def _parse_join(data: dict[str, Any]) -> JoinRequest:
    only_keys(data, frozenset({"displayName", "device", "resume"}), "data")
    name = data.get("displayName")
    if not isinstance(name, str):
        raise invalid("displayName is required")
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise invalid(f"displayName must be 1 to {MAX_DISPLAY_NAME} characters")
    if any(not ch.isprintable() or ch in BIDI_CONTROLS for ch in name):
        raise invalid("displayName has control characters")
    device: dict[str, str] = {}
    if data.get("device") is not None:
        raw = as_object(data["device"], "device")
        if len(raw) > MAX_DEVICE_KEYS:
            raise invalid("device has too many fields")
        for key, value in raw.items():
            if not isinstance(key, str) or not 1 <= len(key) <= 32:
                raise invalid("device has a bad key")
            if not isinstance(value, str) or len(value) > MAX_DEVICE_VALUE:
                raise invalid(f"device values must be strings of at most {MAX_DEVICE_VALUE}")
            device[key] = value
    peer_id = token = None
    if data.get("resume") is not None:
        resume = as_object(data["resume"], "resume")
        only_keys(resume, frozenset({"peerId", "token"}), "resume")
        peer_id = identifier(resume, "peerId")
        token = string(resume, "token", max_length=MAX_TOKEN_LENGTH)
    return JoinRequest(display_name=name, device=device, resume_peer_id=peer_id,
                       resume_token=token)


@dataclass(frozen=True, slots=True)
class CreateTransportRequest(Request):
    """``rtc:createTransport``: a WebRTC transport to send or to receive on."""

    direction: str
    """``send`` (carries producers) or ``recv`` (carries consumers)."""
    sctp_capabilities: dict[str, Any] | None = None
    """``{"numStreams": {"OS": n, "MIS": n}}`` to open SCTP; None for no data channels."""


def _parse_create_transport(data: dict[str, Any]) -> CreateTransportRequest:
    only_keys(data, frozenset({"direction", "sctpCapabilities"}), "data")
    direction = string(data, "direction", choices=DIRECTIONS)
    sctp = None
    if data.get("sctpCapabilities") is not None:
        caps = as_object(data["sctpCapabilities"], "sctpCapabilities")
        only_keys(caps, frozenset({"numStreams"}), "sctpCapabilities")
        streams = as_object(caps.get("numStreams"), "sctpCapabilities.numStreams")
        only_keys(streams, frozenset({"OS", "MIS"}), "sctpCapabilities.numStreams")
        os_ = integer(streams, "OS", required=True, minimum=1, maximum=65535)
        mis = integer(streams, "MIS", required=True, minimum=1, maximum=65535)
        sctp = {"numStreams": {"OS": os_, "MIS": mis}}
    return CreateTransportRequest(direction=direction or "", sctp_capabilities=sctp)


@dataclass(frozen=True, slots=True)
class ConnectTransportRequest(Request):
    """``rtc:connectTransport``: the client's DTLS parameters for one of its transports."""

    transport_id: str
    dtls_parameters: dict[str, Any]
    """``{"role": "auto|client|server", "fingerprints": [{"algorithm", "value"}]}``."""


def _parse_dtls(value: Any) -> dict[str, Any]:
    dtls = as_object(value, "dtlsParameters")
    only_keys(dtls, frozenset({"role", "fingerprints"}), "dtlsParameters")
    role = string(dtls, "role", required=False, choices=DTLS_ROLES)
    fingerprints = dtls.get("fingerprints")
    if not isinstance(fingerprints, list) or not 1 <= len(fingerprints) <= 8:
        raise invalid("dtlsParameters.fingerprints must be a list of 1 to 8 fingerprints")
    clean = []
    for item in fingerprints:
        fingerprint = as_object(item, "dtlsParameters.fingerprints[]")
        only_keys(fingerprint, frozenset({"algorithm", "value"}), "a fingerprint")
        algorithm = string(fingerprint, "algorithm", choices=FINGERPRINT_ALGORITHMS)
        fp_value = string(fingerprint, "value", max_length=200, pattern=FINGERPRINT_PATTERN)
        clean.append({"algorithm": algorithm, "value": fp_value})
    result: dict[str, Any] = {"fingerprints": clean}
    if role is not None:
        result["role"] = role
    return result


def _parse_connect_transport(data: dict[str, Any]) -> ConnectTransportRequest:
    only_keys(data, frozenset({"transportId", "dtlsParameters"}), "data")
    return ConnectTransportRequest(
        transport_id=identifier(data, "transportId"),
        dtls_parameters=_parse_dtls(data.get("dtlsParameters")),
    )


@dataclass(frozen=True, slots=True)
class ProduceRequest(Request):
    """``rtc:produce``: start sending one track on a send transport."""

    transport_id: str
    kind: str
    rtp_parameters: dict[str, Any]
    """mediasoup RtpSendParameters; bounded here, validated in depth by ortc."""
    app_data: dict[str, Any] = field(default_factory=dict)
    """Labels shown to the other peers; ``source`` is one of :data:`SOURCES`."""
    paused: bool = False


def _parse_produce(data: dict[str, Any]) -> ProduceRequest:
    only_keys(data, frozenset({"transportId", "kind", "rtpParameters", "appData", "paused"}),
               "data")
    transport_id = identifier(data, "transportId")
    kind = string(data, "kind", choices=KINDS) or ""
    rtp = as_object(data.get("rtpParameters"), "rtpParameters")
    check_json(rtp, "rtpParameters", max_bytes=MAX_RTP_JSON_BYTES)
    list_of_objects(rtp, "codecs", "rtpParameters", required=True, minimum=1, maximum=16)
    list_of_objects(rtp, "encodings", "rtpParameters", required=False, minimum=0, maximum=8)
    list_of_objects(rtp, "headerExtensions", "rtpParameters", required=False, minimum=0,
                    maximum=32)
    return ProduceRequest(transport_id=transport_id, kind=kind, rtp_parameters=rtp,
                          app_data=_app_data(data, kind), paused=boolean(data, "paused", False))


@dataclass(frozen=True, slots=True)
class ConsumeRequest(Request):
    """``rtc:consume``: receive another peer's producer on a recv transport."""

    transport_id: str
    producer_id: str
    rtp_capabilities: dict[str, Any]
    """The client device's RtpCapabilities; bounded here, checked by can_consume."""
    paused: bool = True
    """Start paused (the default, as mediasoup advises) until ``rtc:resumeConsumer``."""


def _parse_rtp_capabilities(value: Any) -> dict[str, Any]:
    caps = as_object(value, "rtpCapabilities")
    check_json(caps, "rtpCapabilities", max_bytes=MAX_CAPABILITIES_JSON_BYTES)
    list_of_objects(caps, "codecs", "rtpCapabilities", required=True, minimum=1, maximum=64)
    list_of_objects(caps, "headerExtensions", "rtpCapabilities", required=False, minimum=0,
                    maximum=64)
    return caps


def _parse_consume(data: dict[str, Any]) -> ConsumeRequest:
    only_keys(data, frozenset({"transportId", "producerId", "rtpCapabilities", "paused"}),
               "data")
    return ConsumeRequest(
        transport_id=identifier(data, "transportId"),
        producer_id=identifier(data, "producerId"),
        rtp_capabilities=_parse_rtp_capabilities(data.get("rtpCapabilities")),
        paused=boolean(data, "paused", True),
    )


@dataclass(frozen=True, slots=True)
class ConsumerRequest(Request):
    """``rtc:resumeConsumer`` / ``pauseConsumer`` / ``closeConsumer``: one of the peer's."""

    consumer_id: str


def _parse_consumer(data: dict[str, Any]) -> ConsumerRequest:
    only_keys(data, frozenset({"consumerId"}), "data")
    return ConsumerRequest(consumer_id=identifier(data, "consumerId"))


@dataclass(frozen=True, slots=True)
class ProducerRequest(Request):
    """``rtc:pauseProducer`` / ``resumeProducer`` / ``closeProducer`` / ``hostMuteProducer``."""

    producer_id: str


def _parse_producer(data: dict[str, Any]) -> ProducerRequest:
    only_keys(data, frozenset({"producerId"}), "data")
    return ProducerRequest(producer_id=identifier(data, "producerId"))


@dataclass(frozen=True, slots=True)
class SetPreferredLayersRequest(Request):
    """``rtc:setPreferredLayers``: which simulcast/SVC layers a consumer should forward."""

    consumer_id: str
    spatial_layer: int
    temporal_layer: int | None = None


def _parse_set_preferred_layers(data: dict[str, Any]) -> SetPreferredLayersRequest:
    only_keys(data, frozenset({"consumerId", "spatialLayer", "temporalLayer"}), "data")
    return SetPreferredLayersRequest(
        consumer_id=identifier(data, "consumerId"),
        spatial_layer=integer(data, "spatialLayer", required=True, minimum=0,
                              maximum=MAX_LAYER) or 0,
        temporal_layer=integer(data, "temporalLayer", required=False, minimum=0,
                               maximum=MAX_LAYER),
    )


@dataclass(frozen=True, slots=True)
class TransportRequest(Request):
    """``rtc:restartIce`` / ``rtc:closeTransport``: one of the peer's transports."""

    transport_id: str


def _parse_transport(data: dict[str, Any]) -> TransportRequest:
    only_keys(data, frozenset({"transportId"}), "data")
    return TransportRequest(transport_id=identifier(data, "transportId"))


@dataclass(frozen=True, slots=True)
class GetStatsRequest(Request):
    """``rtc:getStats``: stats of exactly one of the peer's transports, producers, consumers."""

    target: str
    """``transport``, ``producer`` or ``consumer``."""
    object_id: str


STATS_TARGETS = {"transportId": "transport", "producerId": "producer", "consumerId": "consumer"}


def _parse_get_stats(data: dict[str, Any]) -> GetStatsRequest:
    only_keys(data, frozenset(STATS_TARGETS), "data")
    named = [key for key in STATS_TARGETS if data.get(key) is not None]
    if len(named) != 1:
        raise invalid("name exactly one of transportId, producerId, consumerId")
    key = named[0]
    return GetStatsRequest(target=STATS_TARGETS[key], object_id=identifier(data, key))


@dataclass(frozen=True, slots=True)
class LeaveRequest(Request):
    """A request without data: ``rtc:leave`` (the socket stays open), ``rtc:serverStats``,
    ``rtc:startRecording``, ``rtc:stopRecording``."""


def _parse_leave(data: dict[str, Any]) -> LeaveRequest:
    only_keys(data, frozenset(), "data")
    return LeaveRequest()


@dataclass(frozen=True, slots=True)
class HostRemovePeerRequest(Request):
    """``rtc:hostRemovePeer``: the host removes another peer from the call."""

    peer_id: str


def _parse_host_remove_peer(data: dict[str, Any]) -> HostRemovePeerRequest:
    only_keys(data, frozenset({"peerId"}), "data")
    return HostRemovePeerRequest(peer_id=identifier(data, "peerId"))


PARSERS: dict[str, Callable[[dict[str, Any]], Request]] = {
    "rtc:join": _parse_join,
    "rtc:createTransport": _parse_create_transport,
    "rtc:connectTransport": _parse_connect_transport,
    "rtc:produce": _parse_produce,
    "rtc:consume": _parse_consume,
    "rtc:resumeConsumer": _parse_consumer,
    "rtc:pauseConsumer": _parse_consumer,
    "rtc:pauseProducer": _parse_producer,
    "rtc:resumeProducer": _parse_producer,
    "rtc:closeProducer": _parse_producer,
    "rtc:setPreferredLayers": _parse_set_preferred_layers,
    "rtc:restartIce": _parse_transport,
    "rtc:getStats": _parse_get_stats,
    "rtc:leave": _parse_leave,
    "rtc:hostMuteProducer": _parse_producer,
    "rtc:hostRemovePeer": _parse_host_remove_peer,
    "rtc:closeTransport": _parse_transport,
    "rtc:closeConsumer": _parse_consumer,
    "rtc:serverStats": _parse_leave,
    "rtc:startRecording": _parse_leave,
    "rtc:stopRecording": _parse_leave,
}


def parse_request(request_type: str, data: Any) -> Request:
    """Validate ``data`` of a request of ``request_type`` and return it typed.

    Raises :class:`SignalingError` with ``unknown_type`` for a type not in :data:`PARSERS` and
    ``invalid`` for data that does not fit the schema. A missing ``data`` counts as ``{}``.
    """
    parser = PARSERS.get(request_type)
    if parser is None:
        raise SignalingError(ErrorCode.UNKNOWN_TYPE, "unknown request type")
    if data is None:
        data = {}
    return parser(as_object(data, "data"))
