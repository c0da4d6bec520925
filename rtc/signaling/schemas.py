"""Schemas of the rtc:* requests: each request's ``data`` checked and turned into a dataclass.

Pure functions, no Django, no worker. Every check that needs only the message is done here
(shape, types, sizes, enumerations, id syntax), so the handlers receive typed values and the
service layer only checks what needs state (does this id belong to this peer and meeting?).
Deep mediasoup shapes (RTP parameters and capabilities) are bounded here (JSON types, depth,
node count, list lengths) and validated field by field by ``rtc.mediasoup.ortc`` before
anything reaches the worker.

Unknown keys are refused at the top level of ``data`` and in the small fixed objects
(DTLS parameters, SCTP capabilities, resume), so a client typo is reported, not ignored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rtc.signaling.errors import ErrorCode, SignalingError

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

MAX_ID_LENGTH = 64
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_DISPLAY_NAME = 64
MAX_DEVICE_KEYS = 8
MAX_DEVICE_VALUE = 64
MAX_TOKEN_LENGTH = 128
MAX_APP_DATA_BYTES = 1024
MAX_RTP_JSON_BYTES = 32 * 1024
MAX_CAPABILITIES_JSON_BYTES = 48 * 1024
MAX_JSON_DEPTH = 8
MAX_JSON_NODES = 4000
MAX_JSON_STRING = 1024
MAX_LAYER = 15
# Safe integer range of JavaScript: anything beyond cannot come from a browser honestly.
MAX_SAFE_INT = 2**53 - 1

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


def _invalid(message: str) -> SignalingError:
    return SignalingError(ErrorCode.INVALID, message)


# --- Field readers ---------------------------------------------------------------------------


def _only_keys(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    """Refuse keys the schema does not know (typos must not pass silently)."""
    extra = [key for key in data if key not in allowed]
    if extra:
        name = str(extra[0])[:32]
        raise _invalid(f"unexpected field {name!r} in {where}")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object")
    return value


def _str(data: Mapping[str, Any], key: str, *, required: bool = True,
         max_length: int = MAX_ID_LENGTH, choices: tuple[str, ...] | None = None,
         pattern: re.Pattern[str] | None = None) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _invalid(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise _invalid(f"{key} must be a string")
    if choices is not None:
        if value not in choices:
            raise _invalid(f"{key} must be one of {', '.join(choices)}")
        return value
    if not value or len(value) > max_length:
        raise _invalid(f"{key} must be 1 to {max_length} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise _invalid(f"{key} is malformed")
    return value


def _id(data: Mapping[str, Any], key: str) -> str:
    """An object id: required, short, URL-safe characters only."""
    value = data.get(key)
    if value is None:
        raise _invalid(f"{key} is required")
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise _invalid(f"{key} must be an id")
    return value


def _int(data: Mapping[str, Any], key: str, *, required: bool, minimum: int,
         maximum: int) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _invalid(f"{key} is required")
        return None
    # bool is an int in Python, never in JSON schemas.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{key} must be an integer")
    if not minimum <= value <= maximum:
        raise _invalid(f"{key} must be between {minimum} and {maximum}")
    return value


def _bool(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid(f"{key} must be true or false")
    return value


def check_json(value: Any, where: str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH,
               max_nodes: int = MAX_JSON_NODES, max_string: int = MAX_JSON_STRING) -> None:
    """Bound an arbitrary JSON value: plain JSON types, finite numbers, depth, nodes, size.

    ``json.loads`` accepts NaN, Infinity and integers of any size; none of them belongs in a
    signaling message, and a huge nested value must not cost more than a bounded walk.
    """
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise _invalid(f"{where} is too large")
        if depth > max_depth:
            raise _invalid(f"{where} is nested too deeply")
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) > MAX_SAFE_INT:
                raise _invalid(f"{where} has an integer out of range")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _invalid(f"{where} has a number out of range")
        elif isinstance(item, str):
            if len(item) > max_string:
                raise _invalid(f"{where} has a string that is too long")
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or len(key) > max_string:
                    raise _invalid(f"{where} has a bad key")
                stack.append((child, depth + 1))
        else:
            raise _invalid(f"{where} is not plain JSON")
    try:
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError):
        raise _invalid(f"{where} is not plain JSON") from None
    if size > max_bytes:
        raise _invalid(f"{where} is too large")


def _list_of_objects(parent: Mapping[str, Any], key: str, where: str, *, required: bool,
                     minimum: int, maximum: int) -> None:
    value = parent.get(key)
    if value is None:
        if required:
            raise _invalid(f"{where}.{key} is required")
        return
    if not isinstance(value, list) or not minimum <= len(value) <= maximum:
        raise _invalid(f"{where}.{key} must be a list of {minimum} to {maximum} objects")
    if not all(isinstance(item, dict) for item in value):
        raise _invalid(f"{where}.{key} must contain objects")


def _app_data(data: Mapping[str, Any], kind: str | None = None) -> dict[str, Any]:
    """Client-chosen labels for a producer; ``source`` (if any) must match the kind."""
    value = data.get("appData")
    if value is None:
        return {}
    app_data = _object(value, "appData")
    check_json(app_data, "appData", max_bytes=MAX_APP_DATA_BYTES, max_depth=3, max_string=256)
    if "source" in app_data:
        source = _str(app_data, "source", choices=SOURCES)
        if kind is not None and SOURCE_KIND[source or ""] != kind:
            raise _invalid(f"appData.source {source} does not match kind {kind}")
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
    _only_keys(data, frozenset({"displayName", "device", "resume"}), "data")
    name = data.get("displayName")
    if not isinstance(name, str):
        raise _invalid("displayName is required")
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise _invalid(f"displayName must be 1 to {MAX_DISPLAY_NAME} characters")
    if any(not ch.isprintable() or ch in BIDI_CONTROLS for ch in name):
        raise _invalid("displayName has control characters")
    device: dict[str, str] = {}
    if data.get("device") is not None:
        raw = _object(data["device"], "device")
        if len(raw) > MAX_DEVICE_KEYS:
            raise _invalid("device has too many fields")
        for key, value in raw.items():
            if not isinstance(key, str) or not 1 <= len(key) <= 32:
                raise _invalid("device has a bad key")
            if not isinstance(value, str) or len(value) > MAX_DEVICE_VALUE:
                raise _invalid(f"device values must be strings of at most {MAX_DEVICE_VALUE}")
            device[key] = value
    peer_id = token = None
    if data.get("resume") is not None:
        resume = _object(data["resume"], "resume")
        _only_keys(resume, frozenset({"peerId", "token"}), "resume")
        peer_id = _id(resume, "peerId")
        token = _str(resume, "token", max_length=MAX_TOKEN_LENGTH)
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
    _only_keys(data, frozenset({"direction", "sctpCapabilities"}), "data")
    direction = _str(data, "direction", choices=DIRECTIONS)
    sctp = None
    if data.get("sctpCapabilities") is not None:
        caps = _object(data["sctpCapabilities"], "sctpCapabilities")
        _only_keys(caps, frozenset({"numStreams"}), "sctpCapabilities")
        streams = _object(caps.get("numStreams"), "sctpCapabilities.numStreams")
        _only_keys(streams, frozenset({"OS", "MIS"}), "sctpCapabilities.numStreams")
        os_ = _int(streams, "OS", required=True, minimum=1, maximum=65535)
        mis = _int(streams, "MIS", required=True, minimum=1, maximum=65535)
        sctp = {"numStreams": {"OS": os_, "MIS": mis}}
    return CreateTransportRequest(direction=direction or "", sctp_capabilities=sctp)


@dataclass(frozen=True, slots=True)
class ConnectTransportRequest(Request):
    """``rtc:connectTransport``: the client's DTLS parameters for one of its transports."""

    transport_id: str
    dtls_parameters: dict[str, Any]
    """``{"role": "auto|client|server", "fingerprints": [{"algorithm", "value"}]}``."""


def _parse_dtls(value: Any) -> dict[str, Any]:
    dtls = _object(value, "dtlsParameters")
    _only_keys(dtls, frozenset({"role", "fingerprints"}), "dtlsParameters")
    role = _str(dtls, "role", required=False, choices=DTLS_ROLES)
    fingerprints = dtls.get("fingerprints")
    if not isinstance(fingerprints, list) or not 1 <= len(fingerprints) <= 8:
        raise _invalid("dtlsParameters.fingerprints must be a list of 1 to 8 fingerprints")
    clean = []
    for item in fingerprints:
        fingerprint = _object(item, "dtlsParameters.fingerprints[]")
        _only_keys(fingerprint, frozenset({"algorithm", "value"}), "a fingerprint")
        algorithm = _str(fingerprint, "algorithm", choices=FINGERPRINT_ALGORITHMS)
        fp_value = _str(fingerprint, "value", max_length=200, pattern=FINGERPRINT_PATTERN)
        clean.append({"algorithm": algorithm, "value": fp_value})
    result: dict[str, Any] = {"fingerprints": clean}
    if role is not None:
        result["role"] = role
    return result


def _parse_connect_transport(data: dict[str, Any]) -> ConnectTransportRequest:
    _only_keys(data, frozenset({"transportId", "dtlsParameters"}), "data")
    return ConnectTransportRequest(
        transport_id=_id(data, "transportId"),
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
    _only_keys(data, frozenset({"transportId", "kind", "rtpParameters", "appData", "paused"}),
               "data")
    transport_id = _id(data, "transportId")
    kind = _str(data, "kind", choices=KINDS) or ""
    rtp = _object(data.get("rtpParameters"), "rtpParameters")
    check_json(rtp, "rtpParameters", max_bytes=MAX_RTP_JSON_BYTES)
    _list_of_objects(rtp, "codecs", "rtpParameters", required=True, minimum=1, maximum=16)
    _list_of_objects(rtp, "encodings", "rtpParameters", required=False, minimum=0, maximum=8)
    _list_of_objects(rtp, "headerExtensions", "rtpParameters", required=False, minimum=0,
                     maximum=32)
    return ProduceRequest(transport_id=transport_id, kind=kind, rtp_parameters=rtp,
                          app_data=_app_data(data, kind), paused=_bool(data, "paused", False))


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
    caps = _object(value, "rtpCapabilities")
    check_json(caps, "rtpCapabilities", max_bytes=MAX_CAPABILITIES_JSON_BYTES)
    _list_of_objects(caps, "codecs", "rtpCapabilities", required=True, minimum=1, maximum=64)
    _list_of_objects(caps, "headerExtensions", "rtpCapabilities", required=False, minimum=0,
                     maximum=64)
    return caps


def _parse_consume(data: dict[str, Any]) -> ConsumeRequest:
    _only_keys(data, frozenset({"transportId", "producerId", "rtpCapabilities", "paused"}),
               "data")
    return ConsumeRequest(
        transport_id=_id(data, "transportId"),
        producer_id=_id(data, "producerId"),
        rtp_capabilities=_parse_rtp_capabilities(data.get("rtpCapabilities")),
        paused=_bool(data, "paused", True),
    )


@dataclass(frozen=True, slots=True)
class ConsumerRequest(Request):
    """``rtc:resumeConsumer`` / ``rtc:pauseConsumer``: one of the peer's consumers."""

    consumer_id: str


def _parse_consumer(data: dict[str, Any]) -> ConsumerRequest:
    _only_keys(data, frozenset({"consumerId"}), "data")
    return ConsumerRequest(consumer_id=_id(data, "consumerId"))


@dataclass(frozen=True, slots=True)
class ProducerRequest(Request):
    """``rtc:pauseProducer`` / ``resumeProducer`` / ``closeProducer`` / ``hostMuteProducer``."""

    producer_id: str


def _parse_producer(data: dict[str, Any]) -> ProducerRequest:
    _only_keys(data, frozenset({"producerId"}), "data")
    return ProducerRequest(producer_id=_id(data, "producerId"))


@dataclass(frozen=True, slots=True)
class SetPreferredLayersRequest(Request):
    """``rtc:setPreferredLayers``: which simulcast/SVC layers a consumer should forward."""

    consumer_id: str
    spatial_layer: int
    temporal_layer: int | None = None


def _parse_set_preferred_layers(data: dict[str, Any]) -> SetPreferredLayersRequest:
    _only_keys(data, frozenset({"consumerId", "spatialLayer", "temporalLayer"}), "data")
    return SetPreferredLayersRequest(
        consumer_id=_id(data, "consumerId"),
        spatial_layer=_int(data, "spatialLayer", required=True, minimum=0,
                           maximum=MAX_LAYER) or 0,
        temporal_layer=_int(data, "temporalLayer", required=False, minimum=0,
                            maximum=MAX_LAYER),
    )


@dataclass(frozen=True, slots=True)
class TransportRequest(Request):
    """``rtc:restartIce``: one of the peer's transports."""

    transport_id: str


def _parse_transport(data: dict[str, Any]) -> TransportRequest:
    _only_keys(data, frozenset({"transportId"}), "data")
    return TransportRequest(transport_id=_id(data, "transportId"))


@dataclass(frozen=True, slots=True)
class GetStatsRequest(Request):
    """``rtc:getStats``: stats of exactly one of the peer's transports, producers, consumers."""

    target: str
    """``transport``, ``producer`` or ``consumer``."""
    object_id: str


STATS_TARGETS = {"transportId": "transport", "producerId": "producer", "consumerId": "consumer"}


def _parse_get_stats(data: dict[str, Any]) -> GetStatsRequest:
    _only_keys(data, frozenset(STATS_TARGETS), "data")
    named = [key for key in STATS_TARGETS if data.get(key) is not None]
    if len(named) != 1:
        raise _invalid("name exactly one of transportId, producerId, consumerId")
    key = named[0]
    return GetStatsRequest(target=STATS_TARGETS[key], object_id=_id(data, key))


@dataclass(frozen=True, slots=True)
class LeaveRequest(Request):
    """``rtc:leave``: leave the call (the socket stays open for meeting events)."""


def _parse_leave(data: dict[str, Any]) -> LeaveRequest:
    _only_keys(data, frozenset(), "data")
    return LeaveRequest()


@dataclass(frozen=True, slots=True)
class HostRemovePeerRequest(Request):
    """``rtc:hostRemovePeer``: the host removes another peer from the call."""

    peer_id: str


def _parse_host_remove_peer(data: dict[str, Any]) -> HostRemovePeerRequest:
    _only_keys(data, frozenset({"peerId"}), "data")
    return HostRemovePeerRequest(peer_id=_id(data, "peerId"))


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
    return parser(_object(data, "data"))
