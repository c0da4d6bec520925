"""The rtc:* request models: each request's ``data``, declared once as a pydantic v2 model.

Pure, no Django, no worker. Every check that needs only the message is made here (shape,
types, sizes, enumerations, id syntax), so the service layer only checks what needs state
(does this id belong to this peer and meeting?). The route table (`rtc.signaling.routes`)
names each request's model beside its grant and its service call; the JSON Schema and the
AsyncAPI document of the socket are generated from these same models.

Why pydantic with strict types, plus a little Python: simple fields (ids, enumerations,
bounded integers, booleans) are checked by pydantic-core without Python calls, which is
faster than the hand-written readers this replaced (``bench/validation.py``). Deep mediasoup
shapes (RTP parameters, capabilities, appData) are bounded by a Python walk
(`rtc.signaling.fields.check_json`) and validated field by field by ``mediasoup_ctl.ortc``
later. The error messages clients have always seen are kept: a failed validation is explained
by :func:`explain` in the old words (``"transportId must be an id"``), not pydantic's.

Unknown keys are refused at the top level of ``data`` and in the small fixed objects (DTLS
parameters, SCTP capabilities, resume), so a client typo is reported, not ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, ValidationInfo, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from rtc.signaling.fields import (
    as_object,
    check_json,
    identifier,
    integer,
    invalid,
    list_of_objects,
    only_keys,
    string,
)
from rtc.signaling.model import (
    ID_REGEX,
    MAX_LAYER,
    Id,
    Layer,
    OptionalId,
    Paused,
    Request,
    Rule,
    StartPaused,
    explain,
    legacy,
    validate,
)

__all__ = [
    "SOURCES",
    "SOURCE_KIND",
    "ConnectTransportRequest",
    "ConsumeRequest",
    "ConsumerRequest",
    "CreateTransportRequest",
    "EmptyRequest",
    "GetStatsRequest",
    "HostRemovePeerRequest",
    "JoinRequest",
    "LeaveRequest",
    "ProduceRequest",
    "ProducerRequest",
    "Request",
    "Resume",
    "SetPreferredLayersRequest",
    "TransportRequest",
    "check_json",
    "explain",
    "validate",
]

MAX_DISPLAY_NAME = 64
MAX_DEVICE_KEYS = 8
MAX_DEVICE_VALUE = 64
MAX_TOKEN_LENGTH = 128
MAX_APP_DATA_BYTES = 1024
MAX_RTP_JSON_BYTES = 32 * 1024
MAX_CAPABILITIES_JSON_BYTES = 48 * 1024
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


def _object_schema(description: str, **extra: Any) -> WithJsonSchema:
    return WithJsonSchema({"type": "object", "description": description, **extra})


# --- requests --------------------------------------------------------------------------------


class LeaveRequest(Request):
    """A request without data: ``rtc:leave`` (the socket stays open), ``rtc:serverStats``,
    ``rtc:startRecording``, ``rtc:stopRecording``."""


EmptyRequest = LeaveRequest


@dataclass(frozen=True, slots=True)
class Resume:
    """The peer to take over on ``rtc:join`` and its secret."""

    peer_id: str
    token: str


def _display_name(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("displayName is required")
    name = " ".join(value.split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise invalid(f"displayName must be 1 to {MAX_DISPLAY_NAME} characters")
    if any(not ch.isprintable() or ch in BIDI_CONTROLS for ch in name):
        raise invalid("displayName has control characters")
    return name


def _device(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    raw = as_object(value, "device")
    if len(raw) > MAX_DEVICE_KEYS:
        raise invalid("device has too many fields")
    device: dict[str, str] = {}
    for key, item in raw.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 32:
            raise invalid("device has a bad key")
        if not isinstance(item, str) or len(item) > MAX_DEVICE_VALUE:
            raise invalid(f"device values must be strings of at most {MAX_DEVICE_VALUE}")
        device[key] = item
    return device


def _resume(value: Any) -> Resume | None:
    if value is None or isinstance(value, Resume):
        return value
    resume = as_object(value, "resume")
    only_keys(resume, frozenset({"peerId", "token"}), "resume")
    peer_id = identifier(resume, "peerId")
    token = string(resume, "token", max_length=MAX_TOKEN_LENGTH)
    return Resume(peer_id=peer_id, token=token or "")


class JoinRequest(Request):
    """``rtc:join``: enter the call of the socket's meeting, or resume a dropped peer."""

    display_name: Annotated[str, PlainValidator(legacy(_display_name)), Rule("text"),
                            WithJsonSchema({"type": "string", "minLength": 1,
                                            "maxLength": MAX_DISPLAY_NAME})] = Field(
        description="Shown to the other peers; 1-64 printable characters (blank runs "
                    "collapse).")
    device: Annotated[dict[str, str], PlainValidator(legacy(_device)), _object_schema(
        "What the client runs on (flag, name, version): at most 8 string fields.",
        maxProperties=MAX_DEVICE_KEYS,
        additionalProperties={"type": "string", "maxLength": MAX_DEVICE_VALUE})] = Field(
        default_factory=dict)
    resume: Annotated[Resume | None, PlainValidator(legacy(_resume)), WithJsonSchema({
        "type": "object", "additionalProperties": False, "required": ["peerId", "token"],
        "description": "A peer of this user, disconnected less than the grace period ago, "
                       "and the resumeToken rtc:joined gave it.",
        "properties": {"peerId": {"type": "string", "pattern": ID_REGEX},
                       "token": {"type": "string", "maxLength": MAX_TOKEN_LENGTH}}})] = None

    @property
    def resume_peer_id(self) -> str | None:
        """The peer to take over, if any."""
        return self.resume.peer_id if self.resume is not None else None

    @property
    def resume_token(self) -> str | None:
        """That peer's ``resumeToken``."""
        return self.resume.token if self.resume is not None else None


def _sctp(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    caps = as_object(value, "sctpCapabilities")
    only_keys(caps, frozenset({"numStreams"}), "sctpCapabilities")
    streams = as_object(caps.get("numStreams"), "sctpCapabilities.numStreams")
    only_keys(streams, frozenset({"OS", "MIS"}), "sctpCapabilities.numStreams")
    os_ = integer(streams, "OS", required=True, minimum=1, maximum=65535)
    mis = integer(streams, "MIS", required=True, minimum=1, maximum=65535)
    return {"numStreams": {"OS": os_, "MIS": mis}}


_STREAMS = {"type": "integer", "minimum": 1, "maximum": 65535}


class CreateTransportRequest(Request):
    """``rtc:createTransport``: a WebRTC transport to send or to receive on."""

    direction: Annotated[Literal["send", "recv"], Rule("choice", choices=DIRECTIONS)] = Field(
        description="send (carries producers) or recv (carries consumers).")
    sctp_capabilities: Annotated[dict[str, Any] | None, PlainValidator(legacy(_sctp)),
                                 WithJsonSchema({
                                     "type": "object", "additionalProperties": False,
                                     "required": ["numStreams"],
                                     "description": "Opens SCTP (data channels).",
                                     "properties": {"numStreams": {
                                         "type": "object", "additionalProperties": False,
                                         "required": ["OS", "MIS"],
                                         "properties": {"OS": _STREAMS, "MIS": _STREAMS}}}})
                                 ] = None


def _dtls(value: Any) -> dict[str, Any]:
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


class ConnectTransportRequest(Request):
    """``rtc:connectTransport``: the client's DTLS parameters for one of its transports."""

    transport_id: Id
    dtls_parameters: Annotated[dict[str, Any], PlainValidator(legacy(_dtls)), Rule("object"),
                               WithJsonSchema({
                                   "type": "object", "additionalProperties": False,
                                   "required": ["fingerprints"],
                                   "properties": {
                                       "role": {"enum": list(DTLS_ROLES)},
                                       "fingerprints": {
                                           "type": "array", "minItems": 1, "maxItems": 8,
                                           "items": {
                                               "type": "object",
                                               "additionalProperties": False,
                                               "required": ["algorithm", "value"],
                                               "properties": {
                                                   "algorithm": {
                                                       "enum": list(FINGERPRINT_ALGORITHMS)},
                                                   "value": {"type": "string",
                                                             "maxLength": 200}}}}}})]


def _rtp_parameters(value: Any) -> dict[str, Any]:
    rtp = as_object(value, "rtpParameters")
    check_json(rtp, "rtpParameters", max_bytes=MAX_RTP_JSON_BYTES)
    list_of_objects(rtp, "codecs", "rtpParameters", required=True, minimum=1, maximum=16)
    list_of_objects(rtp, "encodings", "rtpParameters", required=False, minimum=0, maximum=8)
    list_of_objects(rtp, "headerExtensions", "rtpParameters", required=False, minimum=0,
                    maximum=32)
    return rtp


def _app_data(value: Any, info: ValidationInfo) -> dict[str, Any]:
    """Client-chosen labels for a producer; ``source`` (if any) must match the kind."""
    if value is None:
        return {}
    app_data = as_object(value, "appData")
    check_json(app_data, "appData", max_bytes=MAX_APP_DATA_BYTES, max_depth=3, max_string=256)
    if "source" in app_data:
        source = string(app_data, "source", choices=SOURCES)
        kind = info.data.get("kind")
        if kind is not None and SOURCE_KIND[source or ""] != kind:
            raise invalid(f"appData.source {source} does not match kind {kind}")
    return app_data


class ProduceRequest(Request):
    """``rtc:produce``: start sending one track on a send transport."""

    transport_id: Id
    kind: Annotated[Literal["audio", "video"], Rule("choice", choices=KINDS)]
    rtp_parameters: Annotated[dict[str, Any], PlainValidator(legacy(_rtp_parameters)),
                              Rule("object"), _object_schema(
                                  "mediasoup RtpSendParameters (codecs required), at most "
                                  "32 KiB; validated in depth by the server.")]
    app_data: Annotated[dict[str, Any], PlainValidator(legacy(_app_data)), _object_schema(
        "Labels shown to the other peers, at most 1 KiB; source is one of "
        f"{', '.join(SOURCES)} and matches kind.")] = Field(default_factory=dict)
    paused: Paused = False


def _rtp_capabilities(value: Any) -> dict[str, Any]:
    caps = as_object(value, "rtpCapabilities")
    check_json(caps, "rtpCapabilities", max_bytes=MAX_CAPABILITIES_JSON_BYTES)
    list_of_objects(caps, "codecs", "rtpCapabilities", required=True, minimum=1, maximum=64)
    list_of_objects(caps, "headerExtensions", "rtpCapabilities", required=False, minimum=0,
                    maximum=64)
    return caps


class ConsumeRequest(Request):
    """``rtc:consume``: receive another peer's producer on a recv transport."""

    transport_id: Id
    producer_id: Id
    rtp_capabilities: Annotated[dict[str, Any], PlainValidator(legacy(_rtp_capabilities)),
                                Rule("object"), _object_schema(
                                    "The device's RtpCapabilities (codecs required), at most "
                                    "48 KiB.")]
    paused: StartPaused = Field(default=True, description="Start paused (the default) until "
                                                          "rtc:resumeConsumer.")


class ConsumerRequest(Request):
    """``rtc:resumeConsumer`` / ``pauseConsumer`` / ``closeConsumer``: one of the peer's."""

    consumer_id: Id


class ProducerRequest(Request):
    """``rtc:pauseProducer`` / ``resumeProducer`` / ``closeProducer`` / ``hostMuteProducer``."""

    producer_id: Id


class SetPreferredLayersRequest(Request):
    """``rtc:setPreferredLayers``: which simulcast/SVC layers a consumer should forward."""

    consumer_id: Id
    spatial_layer: Layer
    temporal_layer: Annotated[Layer | None, Rule("int", minimum=0, maximum=MAX_LAYER)] = None


class TransportRequest(Request):
    """``rtc:restartIce`` / ``rtc:closeTransport``: one of the peer's transports."""

    transport_id: Id


STATS_TARGETS = {"transportId": "transport", "producerId": "producer", "consumerId": "consumer"}


class GetStatsRequest(Request):
    """``rtc:getStats``: stats of exactly one of the peer's transports, producers, consumers."""

    transport_id: OptionalId = None
    producer_id: OptionalId = None
    consumer_id: OptionalId = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        # An unknown key is reported before this (`explain` looks at the keys first).
        if isinstance(data, dict) and ((data.get("transportId") is not None)
                                       + (data.get("producerId") is not None)
                                       + (data.get("consumerId") is not None)) != 1:
            raise PydanticCustomError("rtc", "{message}", {
                "message": "name exactly one of transportId, producerId, consumerId"})
        return data

    @property
    def target(self) -> str:
        """``transport``, ``producer`` or ``consumer``."""
        if self.transport_id is not None:
            return "transport"
        return "producer" if self.producer_id is not None else "consumer"

    @property
    def object_id(self) -> str:
        """The id of the named object."""
        return self.transport_id or self.producer_id or self.consumer_id or ""


class HostRemovePeerRequest(Request):
    """``rtc:hostRemovePeer``: the host removes another peer from the call."""

    peer_id: Id
