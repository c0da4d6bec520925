"""Validation and normalisation of the dicts that Producers, Consumers and transports take.

Each ``validate_*`` checks one input the way mediasoup's Node ``ortc`` does and returns a
normalised deep copy: the defaults Node writes into its argument (``channels: 1`` for audio,
``parameters: {}``, ``rtcpFeedback: []``, ``dtx: false``, ``reducedSize: true`` …) are in the
copy, and the argument is left untouched. Invalid input raises ``InvalidParameterError`` whose
message starts with Node's own ``TypeError`` message and ends with where the field is.

Node's quirks are kept on purpose, because the golden vectors compare with it: for instance a
``reducedSize`` of ``False`` becomes ``True``, and a non-array ``rtcpFeedback`` becomes ``[]``.
Python is stricter in one way: a list where an object is expected is refused (JavaScript's
``typeof [] === 'object'`` lets Node accept it and produce nonsense).
"""

from __future__ import annotations

import re
from typing import Any

from mediasoup_ctl._js import JS_DOT, deep_copy, is_number, is_object, is_string, js_str, truthy
from mediasoup_ctl.errors import InvalidParameterError
from mediasoup_ctl.types import (
    NumSctpStreams,
    RtpCapabilities,
    RtpCodecCapability,
    RtpParameters,
    SctpCapabilities,
    SctpParameters,
    SctpStreamParameters,
)

__all__ = [
    "validate_num_sctp_streams",
    "validate_rtp_capabilities",
    "validate_rtp_codec_capability",
    "validate_rtp_parameters",
    "validate_sctp_capabilities",
    "validate_sctp_parameters",
    "validate_sctp_stream_parameters",
]

_MIME_TYPE_RE = re.compile(f"^(audio|video)/({JS_DOT}+)", re.IGNORECASE)
_MIME_KINDS: dict[str, str] = {}  # valid MIME type -> its kind, as the regex says


Where = str | tuple[Any, str, int]
"""Where a field is: text, or ``(parent, name, index)`` made into ``parent name[index]`` only
when an error is raised (formatting it for every list item cost more than validating)."""


def _where_text(where: Where) -> str:
    if isinstance(where, str):
        return where
    parent, name, index = where
    return f"{_where_text(parent)}{name}[{index}]"


def _fail(message: str, where: Where) -> InvalidParameterError:
    where = _where_text(where)
    return InvalidParameterError(f"{message} (at {where})" if where else message)


def _require_object(value: Any, name: str, where: Where) -> None:
    if not is_object(value):
        raise _fail(f"{name} is not an object", where)


def _normalize_codec_parameters(codec: dict[str, Any], where: Where) -> None:
    """Shared by codec capabilities and codec parameters (Node duplicates this code)."""
    if not truthy(codec.get("parameters")) or not isinstance(codec["parameters"], dict | list):
        codec["parameters"] = {}
    elif isinstance(codec["parameters"], list):
        raise _fail("codec.parameters is not an object", where)
    for key, value in codec["parameters"].items():
        value_type = type(value)
        if value_type is int or value_type is float or (value_type is str and key != "apt"):
            continue  # the usual values, decided without the JavaScript helpers
        if not is_string(value) and not is_number(value):
            # Node's message really has that stray "s" after the key.
            raise _fail(f"invalid codec parameter [key:{key}s, value:{js_str(value)}]", where)
        if key == "apt" and not is_number(value):
            raise _fail("invalid codec apt parameter", where)
    feedback = codec.get("rtcpFeedback")
    if not truthy(feedback) or not isinstance(feedback, list):
        codec["rtcpFeedback"] = []
    for index, fb in enumerate(codec["rtcpFeedback"]):
        _normalize_rtcp_feedback(fb, (where, ".rtcpFeedback", index))


def _normalize_codec_common(codec: Any, where: Where) -> str:
    """Check ``mimeType`` and return the kind it names."""
    _require_object(codec, "codec", where)
    mime_type = codec.get("mimeType")
    if not truthy(mime_type) or not is_string(mime_type):
        raise _fail("missing codec.mimeType", where)
    kind = _MIME_KINDS.get(mime_type) if type(mime_type) is str else None
    if kind is None:
        match = _MIME_TYPE_RE.match(mime_type)
        if not match:
            raise _fail("invalid codec.mimeType", where)
        kind = match.group(1).lower()
        if type(mime_type) is str and len(_MIME_KINDS) < 1024:
            _MIME_KINDS[mime_type] = kind  # a few MIME types, seen on every codec
    return kind


def _normalize_channels(codec: dict[str, Any], kind: str) -> None:
    if kind == "audio":
        if not is_number(codec.get("channels")):
            codec["channels"] = 1
    else:
        codec.pop("channels", None)


def _normalize_rtp_codec_capability(codec: Any, where: Where) -> None:
    kind = _normalize_codec_common(codec, where)
    # Node overrides kind with the media component of mimeType.
    codec["kind"] = kind
    preferred = codec.get("preferredPayloadType")
    if truthy(preferred) and not is_number(preferred):
        raise _fail("invalid codec.preferredPayloadType", where)
    if not is_number(codec.get("clockRate")):
        raise _fail("missing codec.clockRate", where)
    _normalize_channels(codec, kind)
    _normalize_codec_parameters(codec, where)


def _normalize_rtp_codec_parameters(codec: Any, where: Where) -> None:
    kind = _normalize_codec_common(codec, where)
    if not is_number(codec.get("payloadType")):
        raise _fail("missing codec.payloadType", where)
    if not is_number(codec.get("clockRate")):
        raise _fail("missing codec.clockRate", where)
    _normalize_channels(codec, kind)
    _normalize_codec_parameters(codec, where)


def _normalize_rtcp_feedback(fb: Any, where: Where) -> None:
    if type(fb) is dict:  # the usual shape, decided without the JavaScript helpers
        fb_type, parameter = fb.get("type"), fb.get("parameter")
        if type(fb_type) is str and fb_type and (parameter is None or type(parameter) is str):
            if not parameter:
                fb["parameter"] = ""
            return
    _require_object(fb, "fb", where)
    if not truthy(fb.get("type")) or not is_string(fb["type"]):
        raise _fail("missing fb.type", where)
    if not truthy(fb.get("parameter")) or not is_string(fb["parameter"]):
        fb["parameter"] = ""


def _normalize_rtp_header_extension(ext: Any, where: Where) -> None:
    if type(ext) is dict:  # the usual shape, decided without the JavaScript helpers
        kind, uri, preferred_id = ext.get("kind"), ext.get("uri"), ext.get("preferredId")
        encrypt, direction = ext.get("preferredEncrypt"), ext.get("direction")
        if ((kind == "audio" or kind == "video") and type(uri) is str and uri
                and (type(preferred_id) is int or type(preferred_id) is float)
                and (encrypt is None or encrypt is True or encrypt is False)
                and (direction is None or type(direction) is str)):
            if encrypt is not True:
                ext["preferredEncrypt"] = False
            if not direction:
                ext["direction"] = "sendrecv"
            return
    _require_object(ext, "ext", where)
    if ext.get("kind") not in ("audio", "video"):
        raise _fail("invalid ext.kind", where)
    if not truthy(ext.get("uri")) or not is_string(ext["uri"]):
        raise _fail("missing ext.uri", where)
    if not is_number(ext.get("preferredId")):
        raise _fail("missing ext.preferredId", where)
    encrypt = ext.get("preferredEncrypt")
    if truthy(encrypt) and not isinstance(encrypt, bool):
        raise _fail("invalid ext.preferredEncrypt", where)
    if not truthy(encrypt):
        ext["preferredEncrypt"] = False
    direction = ext.get("direction")
    if truthy(direction) and not is_string(direction):
        raise _fail("invalid ext.direction", where)
    if not truthy(direction):
        ext["direction"] = "sendrecv"


def _normalize_rtp_header_extension_parameters(ext: Any, where: Where) -> None:
    _require_object(ext, "ext", where)
    if not truthy(ext.get("uri")) or not is_string(ext["uri"]):
        raise _fail("missing ext.uri", where)
    if not is_number(ext.get("id")):
        raise _fail("missing ext.id", where)
    encrypt = ext.get("encrypt")
    if truthy(encrypt) and not isinstance(encrypt, bool):
        raise _fail("invalid ext.encrypt", where)
    if not truthy(encrypt):
        ext["encrypt"] = False
    params = ext.get("parameters")
    if isinstance(params, list):
        raise _fail("ext.parameters is not an object", where)
    if not truthy(params) or not is_object(params):
        ext["parameters"] = {}
    for value in ext["parameters"].values():
        if not is_string(value) and not is_number(value):
            raise _fail("invalid header extension parameter", where)


def _normalize_rtp_encoding_parameters(encoding: Any, where: Where) -> None:
    _require_object(encoding, "encoding", where)
    if truthy(encoding.get("ssrc")) and not is_number(encoding["ssrc"]):
        raise _fail("invalid encoding.ssrc", where)
    if truthy(encoding.get("rid")) and not is_string(encoding["rid"]):
        raise _fail("invalid encoding.rid", where)
    rtx = encoding.get("rtx")
    if truthy(rtx) and not is_object(rtx):
        raise _fail("invalid encoding.rtx", where)
    if truthy(rtx) and not is_number(rtx.get("ssrc")):
        raise _fail("missing encoding.rtx.ssrc", where)
    if not truthy(encoding.get("dtx")) or not isinstance(encoding["dtx"], bool):
        encoding["dtx"] = False
    mode = encoding.get("scalabilityMode")
    if truthy(mode) and not is_string(mode):
        raise _fail("invalid encoding.scalabilityMode", where)


def _normalize_rtcp_parameters(rtcp: Any, where: Where) -> None:
    _require_object(rtcp, "rtcp", where)
    if truthy(rtcp.get("cname")) and not is_string(rtcp["cname"]):
        raise _fail("invalid rtcp.cname", where)
    # Node's test is "!reducedSize || not boolean", so False also becomes True.
    if not truthy(rtcp.get("reducedSize")) or not isinstance(rtcp["reducedSize"], bool):
        rtcp["reducedSize"] = True


def _normalize_list(container: Any, key: str, name: str, where: Where) -> list[Any]:
    """An optional array member: absent or falsy becomes ``[]``, another truthy value fails."""
    value = container.get(key)
    if truthy(value) and not isinstance(value, list):
        raise _fail(f"{name}.{key} is not an array", where)
    if not truthy(value):
        container[key] = []
    items: list[Any] = container[key]
    return items


def normalize_rtp_capabilities(caps: Any) -> None:
    """Validate and fill defaults in place (for dicts this module already copied)."""
    _require_object(caps, "caps", "")
    for index, codec in enumerate(_normalize_list(caps, "codecs", "caps", "")):
        _normalize_rtp_codec_capability(codec, ("", "caps.codecs", index))
    for index, ext in enumerate(_normalize_list(caps, "headerExtensions", "caps", "")):
        _normalize_rtp_header_extension(ext, ("", "caps.headerExtensions", index))


def validate_rtp_capabilities(caps: Any) -> RtpCapabilities:
    """Return a normalised copy of RTP capabilities (a router's or a receiving endpoint's)."""
    result: RtpCapabilities = deep_copy(caps)
    normalize_rtp_capabilities(result)
    return result


def validate_rtp_codec_capability(codec: Any) -> RtpCodecCapability:
    """Return a normalised copy of one codec capability (e.g. a router media codec)."""
    result: RtpCodecCapability = deep_copy(codec)
    _normalize_rtp_codec_capability(result, "")
    return result


def validate_rtp_parameters(params: Any) -> RtpParameters:
    """Return a normalised copy of RTP parameters (what a Producer sends).

    ``codecs`` is mandatory; ``headerExtensions`` and ``encodings`` default to ``[]`` and
    ``rtcp`` to ``{"reducedSize": True}``. Node's ``Transport.produce()`` then replaces empty
    encodings with ``[{}]``; that is the caller's step, not validation's.
    """
    result: RtpParameters = deep_copy(params)
    _require_object(result, "params", "")
    mid = result.get("mid")
    if truthy(mid) and not is_string(mid):
        raise _fail("params.mid is not a string", "")
    if not isinstance(result.get("codecs"), list):
        raise _fail("missing params.codecs", "")
    for index, codec in enumerate(result["codecs"]):
        _normalize_rtp_codec_parameters(codec, ("", "params.codecs", index))
    for index, ext in enumerate(_normalize_list(result, "headerExtensions", "params", "")):
        _normalize_rtp_header_extension_parameters(ext, ("", "params.headerExtensions", index))
    for index, encoding in enumerate(_normalize_list(result, "encodings", "params", "")):
        _normalize_rtp_encoding_parameters(encoding, ("", "params.encodings", index))
    rtcp = result.get("rtcp")
    if truthy(rtcp) and not is_object(rtcp):
        raise _fail("params.rtcp is not an object", "")
    if not truthy(rtcp):
        result["rtcp"] = {}
    _normalize_rtcp_parameters(result["rtcp"], "params.rtcp")
    return result


def validate_sctp_stream_parameters(params: Any) -> SctpStreamParameters:
    """Return a normalised copy of SCTP stream parameters (a DataProducer's).

    ``ordered`` defaults to ``True``, or to ``False`` when a partial-reliability limit
    (``maxPacketLifeTime`` or ``maxRetransmits``) is given; both limits at once, or a limit
    with ``ordered=True``, are refused.
    """
    result: SctpStreamParameters = deep_copy(params)
    _require_object(result, "params", "")
    if not is_number(result.get("streamId")):
        raise _fail("missing params.streamId", "")
    ordered_given = isinstance(result.get("ordered"), bool)
    if not ordered_given:
        result["ordered"] = True
    lifetime = result.get("maxPacketLifeTime")
    retransmits = result.get("maxRetransmits")
    if truthy(lifetime) and not is_number(lifetime):
        raise _fail("invalid params.maxPacketLifeTime", "")
    if truthy(retransmits) and not is_number(retransmits):
        raise _fail("invalid params.maxRetransmits", "")
    if truthy(lifetime) and truthy(retransmits):
        raise _fail("cannot provide both maxPacketLifeTime and maxRetransmits", "")
    limited = truthy(lifetime) or truthy(retransmits)
    if ordered_given and result["ordered"] and limited:
        raise _fail("cannot be ordered with maxPacketLifeTime or maxRetransmits", "")
    if not ordered_given and limited:
        result["ordered"] = False
    return result


def validate_num_sctp_streams(num_streams: Any) -> NumSctpStreams:
    """Return a copy of ``{"OS", "MIS"}`` stream counts, both mandatory numbers."""
    _require_object(num_streams, "numStreams", "")
    if not is_number(num_streams.get("OS")):
        raise _fail("missing numStreams.OS", "")
    if not is_number(num_streams.get("MIS")):
        raise _fail("missing numStreams.MIS", "")
    copied: NumSctpStreams = deep_copy(num_streams)
    return copied


def validate_sctp_capabilities(caps: Any) -> SctpCapabilities:
    """Return a copy of SCTP capabilities (``{"numStreams": {"OS", "MIS"}}``).

    mediasoup 3.16's Node layer no longer has this function; this follows the earlier 3.x one.
    """
    _require_object(caps, "caps", "")
    if not truthy(caps.get("numStreams")) or not is_object(caps["numStreams"]):
        raise _fail("missing caps.numStreams", "")
    validate_num_sctp_streams(caps["numStreams"])
    copied: SctpCapabilities = deep_copy(caps)
    return copied


def validate_sctp_parameters(params: Any) -> SctpParameters:
    """Return a copy of SCTP parameters; ``port``, ``OS``, ``MIS``, ``maxMessageSize`` are
    mandatory numbers (earlier 3.x Node semantics, absent from 3.16)."""
    _require_object(params, "params", "")
    for key in ("port", "OS", "MIS", "maxMessageSize"):
        if not is_number(params.get(key)):
            raise _fail(f"missing params.{key}", "")
    copied: SctpParameters = deep_copy(params)
    return copied
