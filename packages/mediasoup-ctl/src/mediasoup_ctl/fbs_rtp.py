"""RTP parameters: mediasoup's JSON dicts to FlatBuffers and back.

Serialization writes straight into the builder (no intermediate ``...T`` objects) because
produce/consume requests carry the largest bodies of the hot path; it needs our
``fbs_builder.Builder`` (the channel's), whose ``table`` writes each table in one call from a
``TableSpec`` taken from the generated code. Parsing returns dicts in
mediasoup's camelCase shape with absent optional fields left out (as JSON drops ``undefined``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import FBS.RtpParameters.Boolean as FbsBoolean
import FBS.RtpParameters.CodecMapping as FbsCodecMapping
import FBS.RtpParameters.Double as FbsDouble
import FBS.RtpParameters.EncodingMapping as FbsEncodingMapping
import FBS.RtpParameters.Integer32 as FbsInteger32
import FBS.RtpParameters.Integer32Array as FbsInteger32Array
import FBS.RtpParameters.Parameter as FbsParameter
import FBS.RtpParameters.RtcpFeedback as FbsRtcpFeedback
import FBS.RtpParameters.RtcpParameters as FbsRtcpParameters
import FBS.RtpParameters.RtpCodecParameters as FbsCodec
import FBS.RtpParameters.RtpEncodingParameters as FbsEncoding
import FBS.RtpParameters.RtpHeaderExtensionParameters as FbsHeaderExtension
import FBS.RtpParameters.RtpMapping as FbsRtpMapping
import FBS.RtpParameters.RtpParameters as FbsRtpParameters
import FBS.RtpParameters.Rtx as FbsRtx
import FBS.RtpParameters.String as FbsString
import flatbuffers
from FBS.RtpParameters.MediaKind import MediaKind
from FBS.RtpParameters.RtpHeaderExtensionUri import RtpHeaderExtensionUri as Uri
from FBS.RtpParameters.Type import Type
from FBS.RtpParameters.Value import Value

from .errors import InvalidParameterError
from .fbs_builder import Builder
from .fbs_fragments import cached
from .fbs_table import table_spec, write_table

__all__ = [
    "HEADER_EXTENSION_URIS",
    "kind_to_fbs",
    "kind_from_fbs",
    "producer_type_to_fbs",
    "producer_type_from_fbs",
    "offsets_vector",
    "number_vector",
    "serialize_rtp_parameters",
    "serialize_encodings",
    "serialize_rtp_mapping",
    "parse_rtp_parameters",
    "parse_encoding",
    "parse_parameters",
]

HEADER_EXTENSION_URIS: dict[str, int] = {
    "urn:ietf:params:rtp-hdrext:sdes:mid": Uri.Mid,
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id": Uri.RtpStreamId,
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id": Uri.RepairRtpStreamId,
    "http://tools.ietf.org/html/draft-ietf-avtext-framemarking-07": Uri.FrameMarkingDraft07,
    "urn:ietf:params:rtp-hdrext:framemarking": Uri.FrameMarking,
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level": Uri.AudioLevel,
    "urn:3gpp:video-orientation": Uri.VideoOrientation,
    "urn:ietf:params:rtp-hdrext:toffset": Uri.TimeOffset,
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01":
        Uri.TransportWideCcDraft01,
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time": Uri.AbsSendTime,
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time": Uri.AbsCaptureTime,
    "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay": Uri.PlayoutDelay,
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension":
        Uri.DependencyDescriptor,
}
_URI_NAMES = {v: k for k, v in HEADER_EXTENSION_URIS.items()}
_TYPES: dict[str, int] = {
    "simple": Type.SIMPLE, "simulcast": Type.SIMULCAST, "svc": Type.SVC, "pipe": Type.PIPE}
_TYPE_NAMES = {v: k for k, v in _TYPES.items()}


def kind_to_fbs(kind: str) -> int:
    """'audio'/'video' to ``MediaKind``."""
    value: int = MediaKind.AUDIO if kind == "audio" else MediaKind.VIDEO
    return value


def kind_from_fbs(kind: int) -> str:
    """``MediaKind`` to 'audio'/'video'."""
    return "audio" if kind == MediaKind.AUDIO else "video"


def producer_type_to_fbs(kind: str) -> int:
    """'simple'/'simulcast'/'svc'/'pipe' to ``RtpParameters.Type``."""
    return _TYPES[kind]


def producer_type_from_fbs(value: int) -> str:
    """``RtpParameters.Type`` to its mediasoup name."""
    return _TYPE_NAMES[value]


def offsets_vector(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    """A vector of table offsets (already written) in the given order."""
    if isinstance(builder, Builder):
        return builder.offsets_vector(offsets)
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    vector: int = builder.EndVector()
    return vector


def number_vector(builder: flatbuffers.Builder, values: list[int], width: int,
                  prepend: Callable[[int], None]) -> int:
    """A vector of ``width``-byte numbers in the given order, each written by ``prepend``
    (``builder.PrependUint16``, ...): ``StartVector``, the items last first, ``EndVector``."""
    builder.StartVector(width, len(values), width)
    for value in reversed(values):
        prepend(value)
    vector: int = builder.EndVector()
    return vector


# What each table's generated Start/Add.../End calls do, in the order this module makes them.
_BOOLEAN = table_spec(FbsBoolean, "Value")
_INTEGER = table_spec(FbsInteger32, "Value")
_DOUBLE = table_spec(FbsDouble, "Value")
_STRING = table_spec(FbsString, "Value")
_INTEGERS = table_spec(FbsInteger32Array, "Value")
_PARAMETER = table_spec(FbsParameter, "Name", "ValueType", "Value")
_FEEDBACK = table_spec(FbsRtcpFeedback, "Type", "Parameter")
_CODEC = table_spec(FbsCodec, "MimeType", "PayloadType", "ClockRate", "Channels", "Parameters",
                    "RtcpFeedback")
_RTX = table_spec(FbsRtx, "Ssrc")
_ENCODING = table_spec(FbsEncoding, "Ssrc", "Rid", "CodecPayloadType", "Rtx", "Dtx",
                       "ScalabilityMode", "MaxBitrate")
_EXTENSION = table_spec(FbsHeaderExtension, "Uri", "Id", "Encrypt", "Parameters")
_RTCP = table_spec(FbsRtcpParameters, "Cname", "ReducedSize")
_RTP_PARAMETERS = table_spec(FbsRtpParameters, "Mid", "Codecs", "HeaderExtensions", "Encodings",
                             "Rtcp")
_CODEC_MAPPING = table_spec(FbsCodecMapping, "PayloadType", "MappedPayloadType")
_ENCODING_MAPPING = table_spec(FbsEncodingMapping, "Rid", "Ssrc", "ScalabilityMode",
                               "MappedSsrc")
_RTP_MAPPING = table_spec(FbsRtpMapping, "Codecs", "Encodings")


def _string_or_zero(builder: Builder, value: str | None) -> int:
    return builder.CreateString(value) if value is not None else 0


def _serialize_parameters(builder: Builder, parameters: dict[str, Any] | None) -> int:
    offsets = []
    for key, value in (parameters or {}).items():
        name = builder.CreateString(key)
        if isinstance(value, bool):
            value_type, value_offset = Value.Boolean, write_table(
                builder, _BOOLEAN, (1 if value else 0,))
        elif isinstance(value, int):
            value_type, value_offset = Value.Integer32, write_table(builder, _INTEGER, (value,))
        elif isinstance(value, float):
            if value.is_integer():
                value_type, value_offset = Value.Integer32, write_table(
                    builder, _INTEGER, (int(value),))
            else:
                value_type, value_offset = Value.Double, write_table(builder, _DOUBLE, (value,))
        elif isinstance(value, str):
            text = builder.CreateString(value)
            value_type, value_offset = Value.String, write_table(builder, _STRING, (text,))
        elif isinstance(value, list) and all(isinstance(v, int) for v in value):
            items = number_vector(builder, value, 4, builder.PrependInt32)
            value_type = Value.Integer32Array
            value_offset = write_table(builder, _INTEGERS, (items,))
        else:
            raise InvalidParameterError(f"invalid parameter type [key:{key!r}, value:{value!r}]")
        offsets.append(write_table(builder, _PARAMETER, (name, value_type, value_offset)))
    return offsets_vector(builder, offsets)


def serialize_encodings(builder: Builder, encodings: list[Any]) -> int:
    """A vector of ``RtpEncodingParameters``."""
    offsets = []
    for encoding in encodings:
        rid = _string_or_zero(builder, encoding.get("rid"))
        mode = _string_or_zero(builder, encoding.get("scalabilityMode") or None)
        rtx = 0
        if encoding.get("rtx"):
            rtx = write_table(builder, _RTX, (encoding["rtx"]["ssrc"],))
        max_bitrate = encoding.get("maxBitrate")
        # A falsy ssrc or payload type, or an absent dtx, is left out (None / False).
        offsets.append(write_table(builder, _ENCODING, (
            encoding.get("ssrc") or None, rid, encoding.get("codecPayloadType") or None, rtx,
            bool(encoding.get("dtx")), mode,
            int(max_bitrate) if max_bitrate is not None else None)))
    return offsets_vector(builder, offsets)


def _write_codecs(builder: Builder, codecs_list: list[Any]) -> int:
    """The ``codecs`` vector of ``RtpParameters``, written in place."""
    create_string = builder.CreateString
    codecs = []
    for codec in codecs_list:
        mime = create_string(codec["mimeType"])
        parameters = _serialize_parameters(builder, codec.get("parameters"))
        feedback = []
        for fb in codec.get("rtcpFeedback") or ():
            fb_type = create_string(fb["type"])
            parameter = fb.get("parameter")
            fb_parameter = create_string(parameter) if parameter is not None else 0
            feedback.append(write_table(builder, _FEEDBACK, (fb_type, fb_parameter)))
        feedback_vector = offsets_vector(builder, feedback)
        codecs.append(write_table(builder, _CODEC, (
            mime, codec["payloadType"], codec["clockRate"], codec.get("channels"), parameters,
            feedback_vector)))
    return offsets_vector(builder, codecs)


def _write_extensions(builder: Builder, extensions: list[Any] | None) -> int:
    """The ``headerExtensions`` vector of ``RtpParameters``, written in place."""
    offsets = []
    for ext in extensions or ():
        uri = HEADER_EXTENSION_URIS.get(ext["uri"])
        if uri is None:  # the worker knows only these; ortc filters the rest out
            continue
        parameters = _serialize_parameters(builder, ext.get("parameters"))
        offsets.append(write_table(builder, _EXTENSION, (
            uri, ext["id"], bool(ext.get("encrypt")), parameters)))
    return offsets_vector(builder, offsets)


def serialize_rtp_parameters(builder: Builder, params: Mapping[str, Any]) -> int:
    """An ``RtpParameters`` table from validated mediasoup RTP parameters."""
    codecs_vector = cached(builder, "codecs", params["codecs"], _write_codecs)
    extensions_vector = cached(builder, "headerExtensions", params.get("headerExtensions"),
                               _write_extensions)
    encodings_vector = serialize_encodings(builder, params.get("encodings") or [])
    rtcp = params.get("rtcp") or {}
    cname = _string_or_zero(builder, rtcp.get("cname"))
    rtcp_offset = write_table(builder, _RTCP, (cname, bool(rtcp.get("reducedSize", True))))
    mid = _string_or_zero(builder, params.get("mid"))
    return write_table(builder, _RTP_PARAMETERS, (
        mid, codecs_vector, extensions_vector, encodings_vector, rtcp_offset))


def serialize_rtp_mapping(builder: Builder, mapping: Mapping[str, Any]) -> int:
    """An ``RtpMapping`` table from ``ortc.get_producer_rtp_parameters_mapping``'s result."""
    codecs = [write_table(builder, _CODEC_MAPPING,
                          (codec["payloadType"], codec["mappedPayloadType"]))
              for codec in mapping["codecs"]]
    codecs_vector = offsets_vector(builder, codecs)
    encodings = []
    for encoding in mapping["encodings"]:
        rid = _string_or_zero(builder, encoding.get("rid"))
        mode = _string_or_zero(builder, encoding.get("scalabilityMode"))
        encodings.append(write_table(builder, _ENCODING_MAPPING, (
            rid, encoding.get("ssrc"), mode, encoding["mappedSsrc"])))
    encodings_vector = offsets_vector(builder, encodings)
    return write_table(builder, _RTP_MAPPING, (codecs_vector, encodings_vector))


# -- parsing ----------------------------------------------------------------------------------


def parse_parameters(table: Any) -> dict[str, Any]:
    """The ``parameters`` vector of a codec or header extension as a dict."""
    out: dict[str, Any] = {}
    for i in range(table.ParametersLength()):
        parameter = table.Parameters(i)
        name = parameter.Name().decode()
        union = parameter.Value()
        value_type = parameter.ValueType()
        if value_type == Value.Boolean:
            value: Any = FbsBoolean.Boolean()
            value.Init(union.Bytes, union.Pos)
            out[name] = value.Value()
        elif value_type == Value.Integer32:
            value = FbsInteger32.Integer32()
            value.Init(union.Bytes, union.Pos)
            out[name] = value.Value()
        elif value_type == Value.Double:
            value = FbsDouble.Double()
            value.Init(union.Bytes, union.Pos)
            out[name] = value.Value()
        elif value_type == Value.String:
            value = FbsString.String()
            value.Init(union.Bytes, union.Pos)
            out[name] = value.Value().decode()
        elif value_type == Value.Integer32Array:
            value = FbsInteger32Array.Integer32Array()
            value.Init(union.Bytes, union.Pos)
            out[name] = [value.Value(j) for j in range(value.ValueLength())]
    return out


def parse_encoding(table: Any) -> dict[str, Any]:
    """One ``RtpEncodingParameters`` as a dict."""
    out: dict[str, Any] = {}
    if table.Ssrc() is not None:
        out["ssrc"] = table.Ssrc()
    if table.Rid() is not None:
        out["rid"] = table.Rid().decode()
    if table.CodecPayloadType() is not None:
        out["codecPayloadType"] = table.CodecPayloadType()
    rtx = table.Rtx()
    if rtx is not None:
        out["rtx"] = {"ssrc": rtx.Ssrc()}
    out["dtx"] = table.Dtx()
    if table.ScalabilityMode() is not None:
        out["scalabilityMode"] = table.ScalabilityMode().decode()
    if table.MaxBitrate() is not None:
        out["maxBitrate"] = table.MaxBitrate()
    return out


def parse_rtp_parameters(table: Any) -> dict[str, Any]:
    """An ``RtpParameters`` table as mediasoup RTP parameters."""
    codecs = []
    for i in range(table.CodecsLength()):
        codec = table.Codecs(i)
        item: dict[str, Any] = {
            "mimeType": codec.MimeType().decode(),
            "payloadType": codec.PayloadType(),
            "clockRate": codec.ClockRate(),
        }
        if codec.Channels() is not None:
            item["channels"] = codec.Channels()
        item["parameters"] = parse_parameters(codec)
        feedback = []
        for j in range(codec.RtcpFeedbackLength()):
            fb = codec.RtcpFeedback(j)
            entry = {"type": fb.Type().decode()}
            if fb.Parameter() is not None:
                entry["parameter"] = fb.Parameter().decode()
            feedback.append(entry)
        item["rtcpFeedback"] = feedback
        codecs.append(item)
    extensions = []
    for i in range(table.HeaderExtensionsLength()):
        ext = table.HeaderExtensions(i)
        extensions.append({
            "uri": _URI_NAMES.get(ext.Uri(), str(ext.Uri())),
            "id": ext.Id(),
            "encrypt": ext.Encrypt(),
            "parameters": parse_parameters(ext),
        })
    out: dict[str, Any] = {}
    if table.Mid() is not None:
        out["mid"] = table.Mid().decode()
    out["codecs"] = codecs
    out["headerExtensions"] = extensions
    out["encodings"] = [parse_encoding(table.Encodings(i)) for i in range(table.EncodingsLength())]
    rtcp = table.Rtcp()
    if rtcp is not None:
        out["rtcp"] = {"reducedSize": rtcp.ReducedSize()}
        if rtcp.Cname() is not None:
            out["rtcp"] = {"cname": rtcp.Cname().decode(), "reducedSize": rtcp.ReducedSize()}
    return out
