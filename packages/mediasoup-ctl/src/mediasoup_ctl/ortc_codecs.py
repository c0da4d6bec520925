"""Codec matching and router RTP capabilities (the codec half of mediasoup's Node ``ortc``).

``match_codecs`` decides whether two codecs are "the same" for mediasoup: MIME type, clock rate
and channels, multiopus stream counts, and in strict mode H264 packetization mode and profile
and VP9 profile. ``generate_router_rtp_capabilities`` picks a router's codecs from the
supported table with those rules. Import these through ``mediasoup_ctl.ortc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from mediasoup_ctl import h264
from mediasoup_ctl._js import deep_copy, is_number, is_rtx_mime_type, js_str, strict_eq, truthy
from mediasoup_ctl.errors import InvalidParameterError, MediasoupError, UnsupportedError
from mediasoup_ctl.ortc_validation import _normalize_rtp_codec_capability, validate_rtp_capabilities
from mediasoup_ctl.supported_rtp_capabilities import SUPPORTED_RTP_CAPABILITIES
from mediasoup_ctl.types import RtpCapabilities

__all__ = [
    "DYNAMIC_PAYLOAD_TYPES",
    "UNDEFINED",
    "codec_params",
    "generate_router_rtp_capabilities",
    "is_rtx_codec",
    "match_codecs",
    "negotiated_codec_parameters",
]

# Node's order: 100-127 first, then 96-99.
DYNAMIC_PAYLOAD_TYPES: tuple[int, ...] = (*range(100, 128), *range(96, 100))

UNDEFINED = object()
"""Stands for JavaScript's ``undefined`` (an absent key) in ``strict_eq`` comparisons."""

# Node normalises its table in place on every call; doing it once gives the same data.
_NORMALIZED_SUPPORTED = validate_rtp_capabilities(SUPPORTED_RTP_CAPABILITIES)


def is_rtx_codec(codec: Mapping[str, Any]) -> bool:
    """Whether a codec is a retransmission (``*/rtx``) codec."""
    return is_rtx_mime_type(codec.get("mimeType"))


def codec_params(codec: Mapping[str, Any]) -> dict[str, Any]:
    """A codec's ``parameters`` (``{}`` when absent or not an object)."""
    params = codec.get("parameters")
    return params if isinstance(params, dict) else {}


def _or_zero(value: Any) -> Any:
    return value if truthy(value) else 0


def match_codecs(a: Mapping[str, Any], b: Mapping[str, Any], *, strict: bool = False) -> bool:
    """Whether codec ``a`` matches codec ``b`` (mediasoup's ``matchCodecs``, without mutation).

    MIME type (case-insensitive), clock rate and channels must be equal; multiopus also needs
    equal stream counts. ``strict`` adds H264 packetization-mode and profile (with a level
    that can be answered) and VP9 profile-id.
    """
    mime_type = str(a.get("mimeType", "")).lower()
    if mime_type != str(b.get("mimeType", "")).lower():
        return False
    if not strict_eq(a.get("clockRate", UNDEFINED), b.get("clockRate", UNDEFINED)):
        return False
    if not strict_eq(a.get("channels", UNDEFINED), b.get("channels", UNDEFINED)):
        return False
    a_params, b_params = codec_params(a), codec_params(b)
    if mime_type == "audio/multiopus":
        for key in ("num_streams", "coupled_streams"):
            if not strict_eq(a_params.get(key, UNDEFINED), b_params.get(key, UNDEFINED)):
                return False
    elif mime_type in ("video/h264", "video/h264-svc") and strict:
        a_mode = _or_zero(a_params.get("packetization-mode"))
        if not strict_eq(a_mode, _or_zero(b_params.get("packetization-mode"))):
            return False
        if not h264.is_same_profile(a_params, b_params):
            return False
        try:
            h264.generate_profile_level_id_string_for_answer(a_params, b_params)
        except ValueError:
            return False
    elif mime_type == "video/vp9" and strict:
        a_profile = _or_zero(a_params.get("profile-id"))
        if not strict_eq(a_profile, _or_zero(b_params.get("profile-id"))):
            return False
    return True


def negotiated_codec_parameters(
    codec: Mapping[str, Any], cap_codec: Mapping[str, Any]
) -> dict[str, Any]:
    """The codec's parameters after Node's ``matchCodecs(..., {modify: true})``.

    For H264 the ``profile-level-id`` becomes the answer to the router codec (normalised, and
    lowered to the router's level unless both allow level asymmetry); it is idempotent.
    """
    params = deep_copy(codec_params(codec))
    if str(codec.get("mimeType", "")).lower() not in ("video/h264", "video/h264-svc"):
        return params
    try:
        answer = h264.generate_profile_level_id_string_for_answer(params, codec_params(cap_codec))
    except ValueError:
        return params
    if answer:
        params["profile-level-id"] = answer
    else:
        params.pop("profile-level-id", None)
    return params


def generate_router_rtp_capabilities(media_codecs: list[Any] | None = None) -> RtpCapabilities:
    """The RTP capabilities of a router created with ``media_codecs``.

    Each media codec must match a supported codec (non-strict); it gets its
    ``preferredPayloadType``, the supported one (PCMU 0 …), or the next free dynamic one, and
    each video codec is followed by an RTX codec. Only ``parameters`` and
    ``preferredPayloadType`` are taken from the given codec; the rest (``rtcpFeedback``
    included) comes from the supported table. All supported header extensions are offered.
    ``None`` means no codecs (Node's default argument).

    Routers of one application are usually created with the same codec list, so results
    are cached by the list's value (types and key order included) and a copy is returned.
    """
    key = _cache_key(media_codecs)
    if key is not None:
        cached = _CAPABILITIES_CACHE.get(key)
        if cached is not None:
            return deep_copy(cached)
    caps = _generate_router_rtp_capabilities(media_codecs)
    if key is not None:
        if len(_CAPABILITIES_CACHE) >= _CAPABILITIES_CACHE_MAX:  # drop the oldest
            _CAPABILITIES_CACHE.pop(next(iter(_CAPABILITIES_CACHE), None), None)
        _CAPABILITIES_CACHE[key] = deep_copy(caps)
    return caps


_CAPABILITIES_CACHE: dict[Any, RtpCapabilities] = {}
_CAPABILITIES_CACHE_MAX = 64
_KEY_ATOMS = frozenset({str, int, float, bool, type(None)})


class _Uncacheable(Exception):
    """A value that is not plain JSON-like data (no cache key for it)."""


def _cache_key(value: Any) -> Any:
    """A hashable key equal only for equal JSON-like data of the same types, else None."""
    try:
        return _freeze(value)
    except (_Uncacheable, RecursionError):
        return None


def _freeze(value: Any) -> Any:
    cls = type(value)
    if cls in _KEY_ATOMS:
        return cls, value  # 1, 1.0 and True stay apart
    if cls is dict:
        return dict, tuple(((type(k), k), _freeze(v)) for k, v in value.items())
    if cls is list:
        return list, tuple(_freeze(v) for v in value)
    raise _Uncacheable


def _generate_router_rtp_capabilities(media_codecs: list[Any] | None) -> RtpCapabilities:
    if media_codecs is None:
        media_codecs = []
    if not isinstance(media_codecs, list):
        raise InvalidParameterError("mediaCodecs must be an Array")
    # Matching reads the shared table; only what goes into the result is copied.
    dynamic_payload_types = list(DYNAMIC_PAYLOAD_TYPES)
    caps: dict[str, Any] = {
        "codecs": [], "headerExtensions": deep_copy(_NORMALIZED_SUPPORTED["headerExtensions"])}
    for index, given in enumerate(media_codecs):
        media_codec = deep_copy(given)
        _normalize_rtp_codec_capability(media_codec, ("", "mediaCodecs", index))
        matched = next(
            (c for c in _NORMALIZED_SUPPORTED["codecs"]
             if match_codecs(media_codec, c, strict=False)),
            None,
        )
        if matched is None:
            raise UnsupportedError(
                f"media codec not supported [mimeType:{js_str(media_codec['mimeType'])}]"
            )
        codec = deep_copy(matched)
        preferred = media_codec.get("preferredPayloadType")
        if is_number(preferred):
            codec["preferredPayloadType"] = preferred
            if preferred in dynamic_payload_types:
                dynamic_payload_types.remove(preferred)
        elif not is_number(codec.get("preferredPayloadType")):
            codec["preferredPayloadType"] = _take_dynamic_payload_type(dynamic_payload_types)
        if any(
            strict_eq(c.get("preferredPayloadType"), codec["preferredPayloadType"])
            for c in caps["codecs"]
        ):
            raise InvalidParameterError(
                f"duplicated codec.preferredPayloadType (at mediaCodecs[{index}])"
            )
        codec["parameters"] = {**codec.get("parameters", {}), **media_codec["parameters"]}
        caps["codecs"].append(codec)
        if codec["kind"] == "video":
            caps["codecs"].append(
                {
                    "kind": codec["kind"],
                    "mimeType": f"{codec['kind']}/rtx",
                    "preferredPayloadType": _take_dynamic_payload_type(dynamic_payload_types),
                    "clockRate": codec["clockRate"],
                    "parameters": {"apt": codec["preferredPayloadType"]},
                    "rtcpFeedback": [],
                }
            )
    return cast(RtpCapabilities, caps)


def _take_dynamic_payload_type(available: list[int]) -> int:
    if not available:
        # Node throws a plain Error here, neither a TypeError nor an UnsupportedError.
        raise MediasoupError("cannot allocate more dynamic codec payload types")
    return available.pop(0)
