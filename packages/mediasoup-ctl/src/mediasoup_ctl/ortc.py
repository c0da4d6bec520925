"""RTP negotiation as pure functions: mediasoup's Node ``ortc`` module, in Python.

A router turns its media codecs into RTP capabilities; a Producer's RTP parameters are mapped
onto the router's payload types and SSRCs ("consumable" parameters); each Consumer receives a
subset of those, reduced to what the receiving endpoint supports. The worker does the media
work; these functions decide what it is told. They never change their arguments (Node's
mutate theirs) and they raise before anything is sent to the worker:
``InvalidParameterError`` where Node throws ``TypeError``, ``UnsupportedError`` where it
throws ``UnsupportedError``. Golden vectors made with mediasoup 3.16.0 hold the two equal.

Codec matching and router capabilities live in ``ortc_codecs``, input validation in
``ortc_validation``; both are re-exported here, so ``ortc`` is the one module to import.
Random SSRCs come from ``generate_random_number``, looked up at call time so that tests can
replace it with a deterministic sequence.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, cast

from mediasoup_ctl._js import deep_copy, js_str, strict_eq, to_number, truthy
from mediasoup_ctl.errors import InvalidParameterError, UnsupportedError
from mediasoup_ctl.ortc_codecs import (
    DYNAMIC_PAYLOAD_TYPES,
    UNDEFINED,
    codec_params,
    generate_router_rtp_capabilities,
    is_rtx_codec,
    match_codecs,
    negotiated_codec_parameters,
)
from mediasoup_ctl.ortc_validation import (
    validate_num_sctp_streams,
    validate_rtp_capabilities,
    validate_rtp_codec_capability,
    validate_rtp_parameters,
    validate_sctp_capabilities,
    validate_sctp_parameters,
    validate_sctp_stream_parameters,
)
from mediasoup_ctl.scalability_modes import parse_scalability_mode
from mediasoup_ctl.types import MediaKind, RtpCapabilities, RtpMapping, RtpParameters

__all__ = [
    "DYNAMIC_PAYLOAD_TYPES",
    "can_consume",
    "generate_random_number",
    "generate_router_rtp_capabilities",
    "get_consumable_rtp_parameters",
    "get_consumer_rtp_parameters",
    "get_pipe_consumer_rtp_parameters",
    "get_producer_rtp_parameters_mapping",
    "is_rtx_codec",
    "match_codecs",
    "negotiate_producer_rtp_parameters",
    "parse_scalability_mode",
    "validate_num_sctp_streams",
    "validate_rtp_capabilities",
    "validate_rtp_codec_capability",
    "validate_rtp_parameters",
    "validate_sctp_capabilities",
    "validate_sctp_parameters",
    "validate_sctp_stream_parameters",
]

_TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
_ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
_ATOMIC = frozenset({str, int, float, bool, type(None)})  # kept as they are by deep_copy


def generate_random_number() -> int:
    """A random SSRC in [100000000, 999999999), like Node's ``crypto.randomInt``."""
    return 100_000_000 + secrets.randbelow(899_999_999)


def _match_producer_codecs(
    params: Mapping[str, Any], caps: Mapping[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs (producer codec, router codec): media codecs first, then RTX, as Node's Map."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    by_id: dict[int, dict[str, Any]] = {}
    for codec in params["codecs"]:
        if is_rtx_codec(codec):
            continue
        matched = next((c for c in caps["codecs"] if match_codecs(codec, c, strict=True)), None)
        if matched is None:
            raise UnsupportedError(
                f"unsupported codec [mimeType:{js_str(codec.get('mimeType'))}, "
                f"payloadType:{js_str(codec.get('payloadType'))}]"
            )
        pairs.append((codec, matched))
        by_id[id(codec)] = matched
    for codec in params["codecs"]:
        if not is_rtx_codec(codec):
            continue
        apt = codec_params(codec).get("apt", UNDEFINED)
        associated = next(
            (c for c in params["codecs"] if strict_eq(c.get("payloadType", UNDEFINED), apt)), None
        )
        pt = js_str(codec.get("payloadType"))
        if associated is None:
            raise InvalidParameterError(f"missing media codec found for RTX PT {pt}")
        cap_media = by_id.get(id(associated))
        if cap_media is None:
            raise InvalidParameterError(f"RTX PT {pt} has apt {js_str(apt)}, not a media codec")
        cap_rtx = next(
            (
                c
                for c in caps["codecs"]
                if is_rtx_codec(c)
                and strict_eq(
                    codec_params(c).get("apt", UNDEFINED),
                    cap_media.get("preferredPayloadType", UNDEFINED),
                )
            ),
            None,
        )
        if cap_rtx is None:
            raise UnsupportedError(
                "no RTX codec for capability codec PT "
                f"{js_str(cap_media.get('preferredPayloadType'))}"
            )
        pairs.append((codec, cap_rtx))
        by_id[id(codec)] = cap_rtx
    return pairs


def get_producer_rtp_parameters_mapping(
    rtp_parameters: RtpParameters, router_rtp_capabilities: RtpCapabilities
) -> RtpMapping:
    """How the worker maps a Producer's payload types and SSRCs onto the router's.

    ``rtp_parameters`` must be validated. Each media codec must strictly match a router codec
    and each RTX codec needs the router's RTX for it, else ``UnsupportedError``. Encodings get
    consecutive ``mappedSsrc`` values from one random base.
    """
    pairs = _match_producer_codecs(rtp_parameters, router_rtp_capabilities)
    mapping: dict[str, Any] = {
        "codecs": [
            {"payloadType": codec["payloadType"], "mappedPayloadType": cap["preferredPayloadType"]}
            for codec, cap in pairs
        ],
        "encodings": [],
    }
    mapped_ssrc = generate_random_number()
    for encoding in rtp_parameters.get("encodings", []):
        mapped: dict[str, Any] = {"mappedSsrc": mapped_ssrc}
        mapped_ssrc += 1
        for key in ("rid", "ssrc", "scalabilityMode"):
            if truthy(encoding.get(key)):
                mapped[key] = encoding[key]
        mapping["encodings"].append(mapped)
    return cast(RtpMapping, mapping)


def negotiate_producer_rtp_parameters(
    rtp_parameters: RtpParameters, router_rtp_capabilities: RtpCapabilities
) -> RtpParameters:
    """A copy of validated Producer parameters as Node's ``Transport.produce()`` keeps them.

    Node's mapping step rewrites each H264 codec's ``profile-level-id`` to the answer against
    the matching router codec, and that rewritten copy is what the worker receives and what
    ``producer.rtpParameters`` shows. Raises like ``get_producer_rtp_parameters_mapping``.
    """
    return negotiate_in_place(deep_copy(rtp_parameters), router_rtp_capabilities)


def negotiate_in_place(
    rtp_parameters: RtpParameters, router_rtp_capabilities: RtpCapabilities
) -> RtpParameters:
    """``negotiate_producer_rtp_parameters`` on parameters the caller owns (a fresh copy from
    ``validate_rtp_parameters``), changed in place and returned: one copy fewer per produce.
    """
    by_id = {
        id(codec): cap
        for codec, cap in _match_producer_codecs(rtp_parameters, router_rtp_capabilities)
    }
    for codec in rtp_parameters["codecs"]:
        if not is_rtx_codec(codec):
            codec["parameters"] = negotiated_codec_parameters(codec, by_id[id(codec)])
    return rtp_parameters


def get_consumable_rtp_parameters(
    kind: MediaKind,
    rtp_parameters: RtpParameters,
    router_rtp_capabilities: RtpCapabilities,
    rtp_mapping: RtpMapping,
) -> RtpParameters:
    """The parameters every Consumer of a Producer is derived from.

    Codecs take the router's payload types and RTCP feedback (plus the router's RTX codec),
    but keep the Producer's (negotiated) codec parameters; header extensions are the router's
    of that kind that it can send; encodings lose ``rid``/``rtx``/``codecPayloadType`` and
    carry the mapped SSRCs; RTCP keeps the CNAME with reduced size.
    """
    caps = router_rtp_capabilities
    consumable: dict[str, Any] = {"codecs": [], "headerExtensions": [], "encodings": [], "rtcp": {}}
    for codec in rtp_parameters["codecs"]:
        if is_rtx_codec(codec):
            continue
        entry = _first_with(rtp_mapping["codecs"], "payloadType", codec.get("payloadType"))
        if entry is None:
            raise InvalidParameterError(
                f"no mapping for payload type {js_str(codec.get('payloadType'))}"
            )
        mapped = entry.get("mappedPayloadType")
        matched = _first_with(caps["codecs"], "preferredPayloadType", mapped)
        if matched is None:
            raise InvalidParameterError(
                f"no router codec with payload type {js_str(mapped)}"
            )
        consumable_codec = _pick(matched, _CODEC_FIELDS)
        consumable_codec["parameters"] = negotiated_codec_parameters(codec, matched)
        consumable_codec.update(_pick(matched, _FEEDBACK_FIELDS))
        consumable["codecs"].append(consumable_codec)
        cap_rtx = next(
            (
                c
                for c in caps["codecs"]
                if is_rtx_codec(c)
                and strict_eq(codec_params(c).get("apt"), consumable_codec.get("payloadType"))
            ),
            None,
        )
        if cap_rtx is not None:
            consumable["codecs"].append(
                _pick(cap_rtx, _RTX_FIELDS)
            )
    for cap_ext in caps["headerExtensions"]:
        if cap_ext.get("kind") != kind or cap_ext.get("direction") not in ("sendrecv", "sendonly"):
            continue
        ext = _pick(cap_ext, _EXTENSION_FIELDS)
        ext["parameters"] = {}
        consumable["headerExtensions"].append(ext)
    encodings: list[Any] = rtp_parameters.get("encodings") or []
    for index, given in enumerate(encodings):
        if index >= len(rtp_mapping["encodings"]):
            raise InvalidParameterError(f"no mapping for encoding {index}")
        encoding = deep_copy(given)
        for key in ("rid", "rtx", "codecPayloadType"):
            encoding.pop(key, None)
        encoding["ssrc"] = rtp_mapping["encodings"][index]["mappedSsrc"]
        consumable["encodings"].append(encoding)
    consumable["rtcp"] = _pick(rtp_parameters.get("rtcp") or {}, _RTCP_FIELDS)
    consumable["rtcp"]["reducedSize"] = True
    return cast(RtpParameters, consumable)


# (field in the result, field in the router capability), for _pick
_CODEC_FIELDS = (("mimeType", "mimeType"), ("payloadType", "preferredPayloadType"),
                 ("clockRate", "clockRate"), ("channels", "channels"))
_FEEDBACK_FIELDS = (("rtcpFeedback", "rtcpFeedback"),)
_RTX_FIELDS = (("mimeType", "mimeType"), ("payloadType", "preferredPayloadType"),
               ("clockRate", "clockRate"), ("parameters", "parameters"),
               ("rtcpFeedback", "rtcpFeedback"))
_EXTENSION_FIELDS = (("uri", "uri"), ("id", "preferredId"), ("encrypt", "preferredEncrypt"))
_RTCP_FIELDS = (("cname", "cname"),)


def _first_with(items: list[Any], key: str, value: Any) -> Any:
    """The first item whose ``key`` is strictly ``value`` (JavaScript's ``===``), or None."""
    return next((item for item in items if strict_eq(item.get(key), value)), None)


def _pick(source: Mapping[str, Any], fields: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Copy ``source[src]`` to ``result[dst]`` for each ``(dst, src)`` present in ``source``.

    An absent key is left out, as JSON leaves out Node's ``undefined`` members.
    """
    picked: dict[str, Any] = {}
    for dst, src in fields:
        if src in source:
            value = source[src]
            picked[dst] = value if type(value) in _ATOMIC else deep_copy(value)
    return picked


def can_consume(
    consumable_rtp_parameters: RtpParameters, rtp_capabilities: RtpCapabilities
) -> bool:
    """Whether an endpoint with ``rtp_capabilities`` can receive a Producer.

    True when its first consumable codec that the endpoint supports (strict match) is a media
    codec. Invalid capabilities raise ``InvalidParameterError``.
    """
    caps = validate_rtp_capabilities(rtp_capabilities)
    matching = [
        codec
        for codec in consumable_rtp_parameters["codecs"]
        if any(match_codecs(cap, codec, strict=True) for cap in caps["codecs"])
    ]
    return bool(matching) and not is_rtx_codec(matching[0])


def _reduce_feedback_for_bwe(codecs: list[dict[str, Any]], exts: list[dict[str, Any]]) -> None:
    """Transport-CC if negotiated, else REMB if abs-send-time is, else neither."""
    uris = {ext.get("uri") for ext in exts}
    if _TRANSPORT_CC_URI in uris:
        dropped: tuple[str, ...] = ("goog-remb",)
    elif _ABS_SEND_TIME_URI in uris:
        dropped = ("transport-cc",)
    else:
        dropped = ("transport-cc", "goog-remb")
    for codec in codecs:
        codec["rtcpFeedback"] = [
            fb for fb in codec["rtcpFeedback"] if fb.get("type") not in dropped
        ]


def get_consumer_rtp_parameters(
    *,
    consumable_rtp_parameters: RtpParameters,
    remote_rtp_capabilities: RtpCapabilities,
    pipe: bool = False,
    enable_rtx: bool = False,
) -> RtpParameters:
    """The RTP parameters of one Consumer for an endpoint with ``remote_rtp_capabilities``.

    Keeps the consumable codecs the endpoint supports (RTX only with ``enable_rtx`` and only
    for a kept media codec), with the endpoint's RTCP feedback (no plain NACK without RTX),
    the header extensions it knows by the same id and URI, and one bandwidth estimator. A
    non-pipe Consumer gets one encoding with a random SSRC, a scalability mode of ``L<n>T<t>``
    for n simulcast streams, and the largest ``maxBitrate``; a pipe Consumer keeps every
    encoding with new SSRCs. Raises ``UnsupportedError`` when no media codec is left.
    ``remote_rtp_capabilities`` is validated whole (Node's function checks only its codecs,
    because its ``Transport.consume()`` has validated the rest just before).
    """
    remote = validate_rtp_capabilities(remote_rtp_capabilities)
    consumable = consumable_rtp_parameters
    params: dict[str, Any] = {
        "codecs": [],
        "headerExtensions": [],
        "encodings": [],
        "rtcp": deep_copy(consumable.get("rtcp")),
    }
    for codec in deep_copy(consumable.get("codecs") or []):
        if not enable_rtx and is_rtx_codec(codec):
            continue
        matched = next((c for c in remote["codecs"] if match_codecs(c, codec, strict=True)), None)
        if matched is None:
            continue
        codec["rtcpFeedback"] = [
            deep_copy(fb)
            for fb in matched["rtcpFeedback"]
            if enable_rtx or fb.get("type") != "nack" or truthy(fb.get("parameter"))
        ]
        params["codecs"].append(codec)
    rtx_supported = False
    codecs = params["codecs"]
    for idx in range(len(codecs) - 1, -1, -1):
        codec = codecs[idx]
        if not is_rtx_codec(codec):
            continue
        apt = codec_params(codec).get("apt", UNDEFINED)
        if any(strict_eq(c.get("payloadType", UNDEFINED), apt) for c in codecs):
            rtx_supported = True
        else:
            del codecs[idx]
    if not codecs or is_rtx_codec(codecs[0]):
        raise UnsupportedError("no compatible media codecs")
    params["headerExtensions"] = _matching_header_extensions(
        consumable["headerExtensions"], remote["headerExtensions"])
    _reduce_feedback_for_bwe(codecs, params["headerExtensions"])
    encodings = consumable.get("encodings") or []
    if not pipe:
        encoding: dict[str, Any] = {"ssrc": generate_random_number()}
        if rtx_supported:
            encoding["rtx"] = {"ssrc": encoding["ssrc"] + 1}
        mode = next(
            (e["scalabilityMode"] for e in encodings if truthy(e.get("scalabilityMode"))), None
        )
        if len(encodings) > 1:
            temporal_layers = parse_scalability_mode(mode)["temporalLayers"]
            mode = f"L{len(encodings)}T{temporal_layers}"
        if truthy(mode):
            encoding["scalabilityMode"] = mode
        max_bitrate: Any = 0
        for e in encodings:
            bitrate = e.get("maxBitrate")
            if truthy(bitrate) and to_number(bitrate) > to_number(max_bitrate):
                max_bitrate = bitrate
        if truthy(max_bitrate):
            encoding["maxBitrate"] = max_bitrate
        params["encodings"].append(encoding)
    else:
        params["encodings"] = _renumber_encodings(encodings, rtx=rtx_supported)
    return cast(RtpParameters, params)


def _matching_header_extensions(
    extensions: list[Any], remote: list[Any]
) -> list[Any]:
    """Copies of the ``extensions`` the remote side has with the same id (``===``) and URI.

    The remote's ids are grouped by URI once (validated URIs are strings), instead of
    comparing every pair.
    """
    ids_by_uri: dict[Any, list[Any]] = {}
    for cap in remote:
        ids_by_uri.setdefault(cap.get("uri"), []).append(cap.get("preferredId"))
    kept: list[Any] = []
    for ext in extensions:
        uri = ext.get("uri")
        if type(uri) is str:
            candidates = ids_by_uri.get(uri, ())
        else:  # not a plain string: compare with each, as Node does
            candidates = [cap.get("preferredId") for cap in remote if cap.get("uri") == uri]
        ext_id = ext.get("id")
        if any(strict_eq(candidate, ext_id) for candidate in candidates):
            kept.append(deep_copy(ext))
    return kept


def _renumber_encodings(encodings: list[Any], *, rtx: bool) -> list[Any]:
    """Copies with SSRCs (and RTX SSRCs) counted up from fresh random bases, as for pipes."""
    result = deep_copy(encodings)
    base_ssrc = generate_random_number()
    base_rtx_ssrc = generate_random_number()
    for index, encoding in enumerate(result):
        encoding["ssrc"] = base_ssrc + index
        if rtx:
            encoding["rtx"] = {"ssrc": base_rtx_ssrc + index}
        else:
            encoding.pop("rtx", None)
    return result


def get_pipe_consumer_rtp_parameters(
    *, consumable_rtp_parameters: RtpParameters, enable_rtx: bool = False
) -> RtpParameters:
    """The RTP parameters of a Consumer on a PipeTransport (towards another router).

    Keeps every codec and encoding but no bandwidth estimation: RTCP feedback is reduced to
    PLI, FIR and (with ``enable_rtx``) NACK, and MID, abs-send-time and transport-cc header
    extensions are dropped. Without ``enable_rtx`` the RTX codecs go too.
    """
    consumable = consumable_rtp_parameters
    codecs = []
    for codec in deep_copy(consumable.get("codecs") or []):
        if not enable_rtx and is_rtx_codec(codec):
            continue
        codec["rtcpFeedback"] = [
            fb
            for fb in codec["rtcpFeedback"]
            if (fb.get("type") == "nack" and fb.get("parameter") == "pli")
            or (fb.get("type") == "ccm" and fb.get("parameter") == "fir")
            or (enable_rtx and fb.get("type") == "nack" and not truthy(fb.get("parameter")))
        ]
        codecs.append(codec)
    dropped_uris = (_MID_URI, _ABS_SEND_TIME_URI, _TRANSPORT_CC_URI)
    rtcp: Any = consumable.get("rtcp")
    return {
        "codecs": codecs,
        "headerExtensions": [
            deep_copy(ext)
            for ext in consumable["headerExtensions"]
            if ext.get("uri") not in dropped_uris
        ],
        "encodings": _renumber_encodings(consumable.get("encodings") or [], rtx=enable_rtx),
        "rtcp": deep_copy(rtcp),
    }
