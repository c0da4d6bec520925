"""The RTP serializers as first written, with the generated ``FBS`` functions one call per
field: the reference the fast ``fbs_rtp`` serializers (``Builder.table``) must match
byte for byte (``test_ms_fbs.py``). Run them with the stock ``flatbuffers.Builder``."""

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
from FBS.RtpParameters.Value import Value

from mediasoup_ctl.errors import InvalidParameterError
from mediasoup_ctl.fbs_rtp import HEADER_EXTENSION_URIS

__all__ = ["serialize_rtp_parameters", "serialize_encodings", "serialize_rtp_mapping"]


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


def request_message(request_id: int, method: int, handler_id: str, body_type: int,
                    body: Any) -> bytes:
    """A whole request message as the channel first built it (generated functions, the
    library's builder): the reference for ``Channel._build_request``."""
    from FBS.Message import Message as FbsMessage
    from FBS.Message.Body import Body as MessageBody
    from FBS.Request import Request as FbsRequest

    builder = flatbuffers.Builder(1024)
    body_offset = 0
    if body is not None:
        body_offset = body.Pack(builder) if hasattr(body, "Pack") else body(builder)
    handler_offset = builder.CreateString(handler_id)
    FbsRequest.Start(builder)
    FbsRequest.AddId(builder, request_id)
    FbsRequest.AddMethod(builder, method)
    FbsRequest.AddHandlerId(builder, handler_offset)
    if body_offset:
        FbsRequest.AddBodyType(builder, body_type)
        FbsRequest.AddBody(builder, body_offset)
    request = FbsRequest.End(builder)
    FbsMessage.Start(builder)
    FbsMessage.AddDataType(builder, MessageBody.Request)
    FbsMessage.AddData(builder, request)
    builder.FinishSizePrefixed(FbsMessage.End(builder))
    return bytes(builder.Output())
