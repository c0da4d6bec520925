"""H264 ``profile-level-id`` negotiation, as the npm package ``h264-profile-level-id`` 2.x does it.

mediasoup's ``ortc`` matches H264 codecs by profile and narrows the level of a Producer's
``profile-level-id`` to what the router codec allows. The PyPI package of the same name (1.0.0)
parses with ``int(s, 16)`` and raises where the npm package's ``parseInt`` reads a prefix or
gives up quietly, so this is a small faithful port of the part ``ortc`` needs (RFC 6184 §8.1,
ITU-T H.264 Table A-1; originally from libwebrtc).
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any, NamedTuple

from mediasoup_ctl._js import strict_eq, truthy

__all__ = [
    "Level",
    "Profile",
    "ProfileLevelId",
    "generate_profile_level_id_string_for_answer",
    "is_same_profile",
    "parse_profile_level_id",
    "parse_sdp_profile_level_id",
    "profile_level_id_to_string",
]


class Profile(IntEnum):
    """H264 profiles that WebRTC distinguishes."""

    CONSTRAINED_BASELINE = 1
    BASELINE = 2
    MAIN = 3
    CONSTRAINED_HIGH = 4
    HIGH = 5
    PREDICTIVE_HIGH_444 = 6


class Level(IntEnum):
    """H264 levels; the value is ``level_idc`` except for level 1b."""

    L1_B = 0
    L1 = 10
    L1_1 = 11
    L1_2 = 12
    L1_3 = 13
    L2 = 20
    L2_1 = 21
    L2_2 = 22
    L3 = 30
    L3_1 = 31
    L3_2 = 32
    L4 = 40
    L4_1 = 41
    L4_2 = 42
    L5 = 50
    L5_1 = 51
    L5_2 = 52


class ProfileLevelId(NamedTuple):
    """A parsed ``profile-level-id``."""

    profile: Profile
    level: Level


# Not the RFC default (Baseline 1), but libwebrtc's compatibility default: crbug/webrtc/6337.
DEFAULT_PROFILE_LEVEL_ID = ProfileLevelId(Profile.CONSTRAINED_BASELINE, Level.L3_1)

_CONSTRAINT_SET3_FLAG = 0x10


def _bit_pattern(pattern: str) -> tuple[int, int]:
    mask = ~sum(1 << (7 - i) for i, c in enumerate(pattern) if c == "x")
    value = sum(1 << (7 - i) for i, c in enumerate(pattern) if c == "1")
    return mask, value


_PROFILE_PATTERNS = [
    (0x42, _bit_pattern("x1xx0000"), Profile.CONSTRAINED_BASELINE),
    (0x4D, _bit_pattern("1xxx0000"), Profile.CONSTRAINED_BASELINE),
    (0x58, _bit_pattern("11xx0000"), Profile.CONSTRAINED_BASELINE),
    (0x42, _bit_pattern("x0xx0000"), Profile.BASELINE),
    (0x58, _bit_pattern("10xx0000"), Profile.BASELINE),
    (0x4D, _bit_pattern("0x0x0000"), Profile.MAIN),
    (0x64, _bit_pattern("00000000"), Profile.HIGH),
    (0x64, _bit_pattern("00001100"), Profile.CONSTRAINED_HIGH),
    (0xF4, _bit_pattern("00000000"), Profile.PREDICTIVE_HIGH_444),
]

_PROFILE_STRINGS = {
    Profile.CONSTRAINED_BASELINE: "42e0",
    Profile.BASELINE: "4200",
    Profile.MAIN: "4d00",
    Profile.CONSTRAINED_HIGH: "640c",
    Profile.HIGH: "6400",
    Profile.PREDICTIVE_HIGH_444: "f400",
}

_LEVEL_1B_STRINGS = {
    Profile.CONSTRAINED_BASELINE: "42f00b",
    Profile.BASELINE: "42100b",
    Profile.MAIN: "4d100b",
}

_HEX_PREFIX_RE = re.compile(r"[+-]?(?:0[xX])?([0-9a-fA-F]*)")


def _js_parse_int_hex(text: str) -> int | None:
    """``parseInt(text, 16)``: reads the longest hex prefix; ``None`` stands for ``NaN``."""
    stripped = text.lstrip(" \t\n\r\v\f\u00a0\ufeff\u2028\u2029")
    match = _HEX_PREFIX_RE.match(stripped)
    digits = match.group(1) if match else ""
    if not digits:
        return None
    number = int(digits, 16)
    return -number if stripped.startswith("-") else number


def parse_profile_level_id(text: Any) -> ProfileLevelId | None:
    """Parse a 6-hex-digit ``profile-level-id``; ``None`` if it is not a known profile/level."""
    if not isinstance(text, str) or len(text) != 6:
        return None
    numeric = _js_parse_int_hex(text)
    if numeric == 0:
        return None
    # JavaScript bitwise operators turn NaN into 0.
    bits = 0 if numeric is None else numeric
    level_idc = bits & 0xFF
    profile_iop = (bits >> 8) & 0xFF
    profile_idc = (bits >> 16) & 0xFF
    if level_idc == Level.L1_1:
        level = Level.L1_B if profile_iop & _CONSTRAINT_SET3_FLAG else Level.L1_1
    elif level_idc in Level.__members__.values() and level_idc != Level.L1_B:
        level = Level(level_idc)
    else:
        return None
    for idc, (mask, value), profile in _PROFILE_PATTERNS:
        if profile_idc == idc and (profile_iop & mask) == value:
            return ProfileLevelId(profile, level)
    return None


def profile_level_id_to_string(profile_level_id: ProfileLevelId) -> str | None:
    """Canonical 6-hex-digit form, or ``None`` (level 1b exists only for three profiles)."""
    profile, level = profile_level_id
    if level == Level.L1_B:
        return _LEVEL_1B_STRINGS.get(profile)
    return f"{_PROFILE_STRINGS[profile]}{int(level):02x}"


def parse_sdp_profile_level_id(params: dict[str, Any]) -> ProfileLevelId | None:
    """The ``profile-level-id`` of codec parameters; the default one when it is absent."""
    value = params.get("profile-level-id")
    return parse_profile_level_id(value) if truthy(value) else DEFAULT_PROFILE_LEVEL_ID


def is_same_profile(params1: dict[str, Any], params2: dict[str, Any]) -> bool:
    """Whether both codec parameters name the same H264 profile (levels are not compared)."""
    a = parse_sdp_profile_level_id(params1)
    b = parse_sdp_profile_level_id(params2)
    return a is not None and b is not None and a.profile == b.profile


def _is_less_level(a: Level, b: Level) -> bool:
    if a == Level.L1_B:
        return b not in (Level.L1, Level.L1_B)
    if b == Level.L1_B:
        return a != Level.L1
    return a < b


def _is_level_asymmetry_allowed(params: dict[str, Any]) -> bool:
    value = params.get("level-asymmetry-allowed")
    return value is True or strict_eq(value, 1) or value == "1"


def generate_profile_level_id_string_for_answer(
    local_supported_params: dict[str, Any], remote_offered_params: dict[str, Any]
) -> str | None:
    """The ``profile-level-id`` to answer with, or ``None`` when neither side gives one.

    Raises ``ValueError`` when either side is unparsable or the profiles differ. When level
    asymmetry is allowed by both sides the local level is kept, otherwise the lower one.
    """
    if not truthy(local_supported_params.get("profile-level-id")) and not truthy(
        remote_offered_params.get("profile-level-id")
    ):
        return None
    local = parse_sdp_profile_level_id(local_supported_params)
    remote = parse_sdp_profile_level_id(remote_offered_params)
    if local is None:
        raise ValueError("invalid local_profile_level_id")
    if remote is None:
        raise ValueError("invalid remote_profile_level_id")
    if local.profile != remote.profile:
        raise ValueError("H264 Profile mismatch")
    asymmetry = _is_level_asymmetry_allowed(local_supported_params) and _is_level_asymmetry_allowed(
        remote_offered_params
    )
    min_level = local.level if _is_less_level(local.level, remote.level) else remote.level
    answer_level = local.level if asymmetry else min_level
    return profile_level_id_to_string(ProfileLevelId(local.profile, answer_level))
