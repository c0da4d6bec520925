"""The shortcuts ortc takes for speed give what the slow ways gave.

``_js.deep_copy`` stands in for ``copy.deepcopy`` (shared and cyclic references included),
and ``generate_router_rtp_capabilities`` caches its result per codec list: equal lists (same
types, same key order) get equal, independent copies; anything else is computed afresh.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from mediasoup_ctl import ortc, ortc_codecs
from mediasoup_ctl._js import deep_copy

CODECS = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2,
     "parameters": {"useinbandfec": 1, "usedtx": 1}},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000},
    {"kind": "video", "mimeType": "video/H264", "clockRate": 90000,
     "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f"}},
]


def test_deep_copy_matches_deepcopy_on_odd_data():
    """Aliases stay aliases, cycles stay cycles, other types are deep-copied by ``copy``."""
    shared = {"x": [1, 2.5, None, True, "s"]}
    data: dict = {"a": shared, "b": shared, "t": (1, [2]), "o": OrderedDict(k=[1]), "n": []}
    data["n"].append(data)
    result = deep_copy(data)
    expected = copy.deepcopy(data)
    assert result["a"] is result["b"] and result["a"] is not shared
    assert result["n"][0] is result
    assert type(result["o"]) is OrderedDict and result["o"]["k"] is not data["o"]["k"]
    assert result["t"] == (1, [2]) and result["t"][1] is not data["t"][1]
    assert result["a"] == expected["a"] and result["t"] == expected["t"]
    assert deep_copy("text") == "text" and deep_copy(None) is None


def test_router_capabilities_cache_returns_independent_equal_copies():
    """A cached codec list gives equal results that share nothing with each other."""
    first = ortc.generate_router_rtp_capabilities(CODECS)
    second = ortc.generate_router_rtp_capabilities(copy.deepcopy(CODECS))
    assert first == second
    second["codecs"][0]["parameters"]["useinbandfec"] = 0
    second["headerExtensions"].clear()
    third = ortc.generate_router_rtp_capabilities(CODECS)
    assert third == first and third["codecs"][0]["parameters"]["useinbandfec"] == 1


def test_router_capabilities_cache_keeps_types_and_key_order_apart():
    """1 and 1.0, and parameters in another order, are different inputs."""
    results = []
    for value in (1, 1.0, 1):
        codecs = [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000,
                   "channels": 2, "parameters": {"usedtx": value}}]
        caps = ortc.generate_router_rtp_capabilities(codecs)
        results.append(caps["codecs"][0]["parameters"]["usedtx"])
    assert [type(v) for v in results] == [int, float, int]
    forward = [{"kind": "video", "mimeType": "video/VP8", "clockRate": 90000,
                "parameters": {"a": 1, "b": 2}}]
    backward = [{"kind": "video", "mimeType": "video/VP8", "clockRate": 90000,
                 "parameters": {"b": 2, "a": 1}}]
    assert list(ortc.generate_router_rtp_capabilities(forward)["codecs"][0]["parameters"]) \
        == ["a", "b"]
    assert list(ortc.generate_router_rtp_capabilities(backward)["codecs"][0]["parameters"]) \
        == ["b", "a"]


def test_router_capabilities_cache_is_bounded_and_skips_odd_inputs(monkeypatch):
    """The cache holds at most its limit; non-JSON inputs are computed but never cached."""
    monkeypatch.setattr(ortc_codecs, "_CAPABILITIES_CACHE", {})
    monkeypatch.setattr(ortc_codecs, "_CAPABILITIES_CACHE_MAX", 3)
    for rate in range(5):
        ortc.generate_router_rtp_capabilities(
            [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2,
              "parameters": {"maxplaybackrate": 8000 + rate}}])
        assert len(ortc_codecs._CAPABILITIES_CACHE) <= 3
    odd = [OrderedDict(kind="video", mimeType="video/VP8", clockRate=90000)]
    before = len(ortc_codecs._CAPABILITIES_CACHE)
    caps = ortc.generate_router_rtp_capabilities(odd)
    assert caps["codecs"][0]["mimeType"] == "video/VP8"
    assert len(ortc_codecs._CAPABILITIES_CACHE) == before
