"""Plain unit tests of mediasoup_ctl.ortc: the main flow and that inputs are never mutated."""

from __future__ import annotations

import copy

import pytest

from mediasoup_ctl import ortc
from mediasoup_ctl.errors import InvalidParameterError, UnsupportedError

MEDIA_CODECS = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000},
]

VP8_PRODUCER = {
    "mid": "0",
    "codecs": [
        {"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000},
        {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}},
    ],
    "encodings": [{"rid": "r0"}, {"rid": "r1"}, {"rid": "r2"}],
    "rtcp": {"cname": "abc"},
}


def test_full_flow_leaves_every_input_unchanged() -> None:
    """Router caps, mapping, consumable and consumer parameters never modify their arguments."""
    codecs = copy.deepcopy(MEDIA_CODECS)
    caps = ortc.generate_router_rtp_capabilities(codecs)
    assert codecs == MEDIA_CODECS
    raw = copy.deepcopy(VP8_PRODUCER)
    params = ortc.validate_rtp_parameters(raw)
    assert raw == VP8_PRODUCER
    assert params["encodings"][0]["dtx"] is False
    caps_before = copy.deepcopy(caps)
    params_before = copy.deepcopy(params)
    mapping = ortc.get_producer_rtp_parameters_mapping(params, caps)
    consumable = ortc.get_consumable_rtp_parameters("video", params, caps, mapping)
    consumable_before = copy.deepcopy(consumable)
    consumer = ortc.get_consumer_rtp_parameters(
        consumable_rtp_parameters=consumable,
        remote_rtp_capabilities=caps,
        pipe=False,
        enable_rtx=True,
    )
    assert caps == caps_before
    assert params == params_before
    assert consumable == consumable_before
    assert [c["mimeType"] for c in consumer["codecs"]] == ["video/VP8", "video/rtx"]
    assert consumer["encodings"][0]["scalabilityMode"] == "L3T1"
    assert consumer["encodings"][0]["rtx"]["ssrc"] == consumer["encodings"][0]["ssrc"] + 1


def test_unsupported_codec_and_bad_input_raise_the_mapped_errors() -> None:
    """An unknown codec is UnsupportedError; a malformed dict is InvalidParameterError."""
    with pytest.raises(UnsupportedError, match="audio/foo"):
        ortc.generate_router_rtp_capabilities([{"mimeType": "audio/foo", "clockRate": 8000}])
    with pytest.raises(
        InvalidParameterError, match=r"missing codec.clockRate \(at params.codecs\[0\]\)"
    ):
        ortc.validate_rtp_parameters({"codecs": [{"mimeType": "audio/opus", "payloadType": 100}]})
