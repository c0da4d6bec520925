"""RTP parameters: mediasoup's JSON dicts to FlatBuffers and back.

Serialization writes straight into the builder (no intermediate ``...T`` objects) because
produce/consume requests carry the largest bodies of the hot path. Parsing returns dicts in
mediasoup's camelCase shape with absent optional fields left out (as JSON drops ``undefined``).
"""

from __future__ import annotations

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

__all__ = [
    "HEADER_EXTENSION_URIS",
    "kind_to_fbs",
    "kind_from_fbs",
    "producer_type_to_fbs",
    "producer_type_from_fbs",
    "offsets_vector",
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
_TYPES = {"simple": Type.SIMPLE, "simulcast": Type.SIMULCAST, "svc": Type.SVC, "pipe": Type.PIPE}
_TYPE_NAMES = {v: k for k, v in _TYPES.items()}


def kind_to_fbs(kind: str) -> int:
    """'audio'/'video' to ``MediaKind``."""
    return MediaKind.AUDIO if kind == "audio" else MediaKind.VIDEO


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
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _string_or_zero(builder: flatbuffers.Builder, value: str | None) -> int:
    return builder.CreateString(value) if value is not None else 0


def _serialize_parameters(builder: flatbuffers.Builder, parameters: dict[str, Any] | None) -> int:
    offsets = []
    for key, value in (parameters or {}).items():
        name = builder.CreateString(key)
        if isinstance(value, bool):
            FbsBoolean.Start(builder)
            FbsBoolean.AddValue(builder, 1 if value else 0)
            value_type, value_offset = Value.Boolean, FbsBoolean.End(builder)
        elif isinstance(value, int):
            FbsInteger32.Start(builder)
            FbsInteger32.AddValue(builder, value)
            value_type, value_offset = Value.Integer32, FbsInteger32.End(builder)
        elif isinstance(value, float):
            if value.is_integer():
                FbsInteger32.Start(builder)
                FbsInteger32.AddValue(builder, int(value))
                value_type, value_offset = Value.Integer32, FbsInteger32.End(builder)
            else:
                FbsDouble.Start(builder)
                FbsDouble.AddValue(builder, value)
                value_type, value_offset = Value.Double, FbsDouble.End(builder)
        elif isinstance(value, str):
            text = builder.CreateString(value)
            FbsString.Start(builder)
            FbsString.AddValue(builder, text)
            value_type, value_offset = Value.String, FbsString.End(builder)
        elif isinstance(value, list) and all(isinstance(v, int) for v in value):
            builder.StartVector(4, len(value), 4)
            for item in reversed(value):
                builder.PrependInt32(item)
            items = builder.EndVector()
            FbsInteger32Array.Start(builder)
            FbsInteger32Array.AddValue(builder, items)
            value_type, value_offset = Value.Integer32Array, FbsInteger32Array.End(builder)
        else:
            raise InvalidParameterError(f"invalid parameter type [key:{key!r}, value:{value!r}]")
        FbsParameter.Start(builder)
        FbsParameter.AddName(builder, name)
        FbsParameter.AddValueType(builder, value_type)
        FbsParameter.AddValue(builder, value_offset)
        offsets.append(FbsParameter.End(builder))
    return offsets_vector(builder, offsets)


def serialize_encodings(builder: flatbuffers.Builder, encodings: list[dict[str, Any]]) -> int:
    """A vector of ``RtpEncodingParameters``."""
    offsets = []
    for encoding in encodings:
        rid = _string_or_zero(builder, encoding.get("rid"))
        mode = _string_or_zero(builder, encoding.get("scalabilityMode") or None)
        rtx = 0
        if encoding.get("rtx"):
            FbsRtx.Start(builder)
            FbsRtx.AddSsrc(builder, encoding["rtx"]["ssrc"])
            rtx = FbsRtx.End(builder)
        FbsEncoding.Start(builder)
        if encoding.get("ssrc"):
            FbsEncoding.AddSsrc(builder, encoding["ssrc"])
        if rid:
            FbsEncoding.AddRid(builder, rid)
        if encoding.get("codecPayloadType"):
            FbsEncoding.AddCodecPayloadType(builder, encoding["codecPayloadType"])
        if rtx:
            FbsEncoding.AddRtx(builder, rtx)
        if encoding.get("dtx") is not None:
            FbsEncoding.AddDtx(builder, bool(encoding["dtx"]))
        if mode:
            FbsEncoding.AddScalabilityMode(builder, mode)
        if encoding.get("maxBitrate") is not None:
            FbsEncoding.AddMaxBitrate(builder, int(encoding["maxBitrate"]))
        offsets.append(FbsEncoding.End(builder))
    return offsets_vector(builder, offsets)


def serialize_rtp_parameters(builder: flatbuffers.Builder, params: dict[str, Any]) -> int:
    """An ``RtpParameters`` table from validated mediasoup RTP parameters."""
    codecs = []
    for codec in params["codecs"]:
        mime = builder.CreateString(codec["mimeType"])
        parameters = _serialize_parameters(builder, codec.get("parameters"))
        feedback = []
        for fb in codec.get("rtcpFeedback") or ():
            fb_type = builder.CreateString(fb["type"])
            fb_parameter = _string_or_zero(builder, fb.get("parameter"))
            FbsRtcpFeedback.Start(builder)
            FbsRtcpFeedback.AddType(builder, fb_type)
            if fb_parameter:
                FbsRtcpFeedback.AddParameter(builder, fb_parameter)
            feedback.append(FbsRtcpFeedback.End(builder))
        feedback_vector = offsets_vector(builder, feedback)
        FbsCodec.Start(builder)
        FbsCodec.AddMimeType(builder, mime)
        FbsCodec.AddPayloadType(builder, codec["payloadType"])
        FbsCodec.AddClockRate(builder, codec["clockRate"])
        if codec.get("channels") is not None:
            FbsCodec.AddChannels(builder, codec["channels"])
        FbsCodec.AddParameters(builder, parameters)
        FbsCodec.AddRtcpFeedback(builder, feedback_vector)
        codecs.append(FbsCodec.End(builder))
    codecs_vector = offsets_vector(builder, codecs)
    extensions = []
    for ext in params.get("headerExtensions") or ():
        uri = HEADER_EXTENSION_URIS.get(ext["uri"])
        if uri is None:  # the worker knows only these; ortc filters the rest out
            continue
        parameters = _serialize_parameters(builder, ext.get("parameters"))
        FbsHeaderExtension.Start(builder)
        FbsHeaderExtension.AddUri(builder, uri)
        FbsHeaderExtension.AddId(builder, ext["id"])
        FbsHeaderExtension.AddEncrypt(builder, bool(ext.get("encrypt")))
        FbsHeaderExtension.AddParameters(builder, parameters)
        extensions.append(FbsHeaderExtension.End(builder))
    extensions_vector = offsets_vector(builder, extensions)
    encodings_vector = serialize_encodings(builder, params.get("encodings") or [])
    rtcp = params.get("rtcp") or {}
    cname = _string_or_zero(builder, rtcp.get("cname"))
    FbsRtcpParameters.Start(builder)
    if cname:
        FbsRtcpParameters.AddCname(builder, cname)
    FbsRtcpParameters.AddReducedSize(builder, bool(rtcp.get("reducedSize", True)))
    rtcp_offset = FbsRtcpParameters.End(builder)
    mid = _string_or_zero(builder, params.get("mid"))
    FbsRtpParameters.Start(builder)
    if mid:
        FbsRtpParameters.AddMid(builder, mid)
    FbsRtpParameters.AddCodecs(builder, codecs_vector)
    FbsRtpParameters.AddHeaderExtensions(builder, extensions_vector)
    FbsRtpParameters.AddEncodings(builder, encodings_vector)
    FbsRtpParameters.AddRtcp(builder, rtcp_offset)
    return FbsRtpParameters.End(builder)


def serialize_rtp_mapping(builder: flatbuffers.Builder, mapping: dict[str, Any]) -> int:
    """An ``RtpMapping`` table from ``ortc.get_producer_rtp_parameters_mapping``'s result."""
    codecs = []
    for codec in mapping["codecs"]:
        FbsCodecMapping.Start(builder)
        FbsCodecMapping.AddPayloadType(builder, codec["payloadType"])
        FbsCodecMapping.AddMappedPayloadType(builder, codec["mappedPayloadType"])
        codecs.append(FbsCodecMapping.End(builder))
    codecs_vector = offsets_vector(builder, codecs)
    encodings = []
    for encoding in mapping["encodings"]:
        rid = _string_or_zero(builder, encoding.get("rid"))
        mode = _string_or_zero(builder, encoding.get("scalabilityMode"))
        FbsEncodingMapping.Start(builder)
        if rid:
            FbsEncodingMapping.AddRid(builder, rid)
        if encoding.get("ssrc") is not None:
            FbsEncodingMapping.AddSsrc(builder, encoding["ssrc"])
        if mode:
            FbsEncodingMapping.AddScalabilityMode(builder, mode)
        FbsEncodingMapping.AddMappedSsrc(builder, encoding["mappedSsrc"])
        encodings.append(FbsEncodingMapping.End(builder))
    encodings_vector = offsets_vector(builder, encodings)
    FbsRtpMapping.Start(builder)
    FbsRtpMapping.AddCodecs(builder, codecs_vector)
    FbsRtpMapping.AddEncodings(builder, encodings_vector)
    return FbsRtpMapping.End(builder)


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
