"""Edge cases of mediasoup_ctl.ortc that the golden vectors do not show on their own.

Each test states where the Python port deliberately differs from Node (stricter input
checks, no mutation) or what a Node quirk kept for parity looks like.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mediasoup_ctl import ortc
from mediasoup_ctl._js import js_str, strict_eq, truthy
from mediasoup_ctl.errors import InvalidParameterError, UnsupportedError
from mediasoup_ctl.supported_rtp_capabilities import SUPPORTED_RTP_CAPABILITIES

PACKAGE = Path(__file__).resolve().parents[2]

ROUTER_CODECS = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000},
    {
        "kind": "video",
        "mimeType": "video/H264",
        "clockRate": 90000,
        "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f"},
    },
]

H264_PRODUCER = {
    "codecs": [
        {
            "mimeType": "video/H264",
            "payloadType": 125,
            "clockRate": 90000,
            "parameters": {"packetization-mode": 1, "profile-level-id": "42E034"},
        },
        {
            "mimeType": "video/rtx",
            "payloadType": 107,
            "clockRate": 90000,
            "parameters": {"apt": 125},
        },
    ],
    "encodings": [{"ssrc": 1111, "rtx": {"ssrc": 2222}, "scalabilityMode": "L1T3"}],
    "rtcp": {"cname": "x"},
}


def _producer(params: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    caps = ortc.generate_router_rtp_capabilities(ROUTER_CODECS)
    validated = ortc.validate_rtp_parameters(params)
    mapping = ortc.get_producer_rtp_parameters_mapping(validated, caps)
    consumable = ortc.get_consumable_rtp_parameters("video", validated, caps, mapping)
    return caps, validated, mapping, consumable


def test_h264_producer_functions_do_not_mutate_and_negotiation_is_idempotent() -> None:
    """Node rewrites the Producer's profile-level-id in place; Python returns a copy instead,
    and negotiating twice gives the same parameters (so callers may negotiate first)."""
    caps, validated, mapping, consumable = _producer(copy.deepcopy(H264_PRODUCER))
    before = copy.deepcopy(validated)
    negotiated = ortc.negotiate_producer_rtp_parameters(validated, caps)
    assert validated == before
    assert validated["codecs"][0]["parameters"]["profile-level-id"] == "42E034"
    # No level asymmetry on the producer: the router's level 3.1 wins, in canonical case.
    assert negotiated["codecs"][0]["parameters"]["profile-level-id"] == "42e01f"
    assert ortc.negotiate_producer_rtp_parameters(negotiated, caps) == negotiated
    assert consumable["codecs"][0]["parameters"]["profile-level-id"] == "42e01f"
    again = ortc.get_producer_rtp_parameters_mapping(negotiated, caps)
    assert again["codecs"] == mapping["codecs"]
    assert (
        ortc.get_consumable_rtp_parameters("video", negotiated, caps, again)["codecs"]
        == (consumable["codecs"])
    )


def test_consumer_and_pipe_parameters_are_independent_copies() -> None:
    """Changing a returned dict never reaches the consumable parameters or the capabilities."""
    caps, _, _, consumable = _producer(copy.deepcopy(H264_PRODUCER))
    frozen = copy.deepcopy(consumable)
    consumer = ortc.get_consumer_rtp_parameters(
        consumable_rtp_parameters=consumable, remote_rtp_capabilities=caps, enable_rtx=True
    )
    pipe = ortc.get_pipe_consumer_rtp_parameters(
        consumable_rtp_parameters=consumable, enable_rtx=True
    )
    for result in (consumer, pipe):
        result["rtcp"]["cname"] = "changed"
        result["codecs"][0]["parameters"]["x"] = 1
        result["codecs"][0]["rtcpFeedback"].clear()
        result["headerExtensions"].clear()
    assert consumable == frozen
    assert caps == ortc.generate_router_rtp_capabilities(ROUTER_CODECS)
    assert pipe["encodings"][0]["rtx"]["ssrc"] != pipe["encodings"][0]["ssrc"]


def test_validation_error_names_the_field_and_where_it_is() -> None:
    """Python adds the location to Node's terse message."""
    caps = {"codecs": [{"mimeType": "audio/opus", "clockRate": 48000, "rtcpFeedback": [{}]}]}
    with pytest.raises(InvalidParameterError) as info:
        ortc.validate_rtp_capabilities(caps)
    assert str(info.value) == "missing fb.type (at caps.codecs[0].rtcpFeedback[0])"
    with pytest.raises(InvalidParameterError, match=r"at params\.encodings\[1\]"):
        ortc.validate_rtp_parameters({"codecs": [], "encodings": [{}, {"ssrc": "1"}]})


@pytest.mark.parametrize(
    ("call", "value"),
    [
        (ortc.validate_rtp_capabilities, []),
        (ortc.validate_rtp_capabilities, {"codecs": [[]]}),
        (ortc.validate_rtp_parameters, {"codecs": [], "rtcp": []}),
        (ortc.validate_rtp_parameters, {"codecs": [], "encodings": [[]]}),
        (ortc.validate_rtp_capabilities, {"codecs": [{**ROUTER_CODECS[0], "parameters": [1]}]}),
        (ortc.validate_sctp_stream_parameters, []),
    ],
)
def test_lists_where_objects_belong_are_refused(call: Any, value: Any) -> None:
    """Deliberately stricter than Node, whose ``typeof [] === 'object'`` lets arrays through."""
    with pytest.raises(InvalidParameterError, match="is not an object"):
        call(value)


def test_none_media_codecs_means_no_codecs() -> None:
    """Python's ``None`` is Node's omitted argument (Node rejects an explicit ``null``)."""
    caps = ortc.generate_router_rtp_capabilities(None)
    assert caps["codecs"] == []
    assert len(caps["headerExtensions"]) == len(SUPPORTED_RTP_CAPABILITIES["headerExtensions"])


def test_reduced_size_false_becomes_true_as_in_node() -> None:
    """A Node quirk kept for parity: ``!reducedSize`` resets an explicit ``False``."""
    params = ortc.validate_rtp_parameters({"codecs": [], "rtcp": {"reducedSize": False}})
    assert params["rtcp"] == {"reducedSize": True}


def test_consumer_without_common_codec_is_unsupported() -> None:
    """A receiver with only audio codecs cannot consume video: UnsupportedError, and
    can_consume says False without raising."""
    caps, _, _, consumable = _producer(copy.deepcopy(H264_PRODUCER))
    audio_only = {"codecs": [ROUTER_CODECS[0]]}
    assert ortc.can_consume(consumable, audio_only) is False
    assert ortc.can_consume(consumable, caps) is True
    with pytest.raises(UnsupportedError, match="no compatible media codecs"):
        ortc.get_consumer_rtp_parameters(
            consumable_rtp_parameters=consumable, remote_rtp_capabilities=audio_only
        )


def test_mapping_with_unknown_payload_type_is_a_clear_error() -> None:
    """Where Node would crash on ``undefined``, Python names the missing payload type."""
    caps, validated, mapping, _ = _producer(copy.deepcopy(H264_PRODUCER))
    with pytest.raises(InvalidParameterError, match="no mapping for payload type 125"):
        ortc.get_consumable_rtp_parameters("video", validated, caps, {**mapping, "codecs": []})
    with pytest.raises(InvalidParameterError, match="no mapping for encoding 0"):
        ortc.get_consumable_rtp_parameters("video", validated, caps, {**mapping, "encodings": []})


def test_rtx_pointing_to_a_later_rtx_codec_is_rejected() -> None:
    """Node throws an engine TypeError here; Python explains which apt is wrong."""
    caps = ortc.generate_router_rtp_capabilities(ROUTER_CODECS)
    params = ortc.validate_rtp_parameters(
        {
            "codecs": [
                {"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000},
                {
                    "mimeType": "video/rtx",
                    "payloadType": 97,
                    "clockRate": 90000,
                    "parameters": {"apt": 98},
                },
                {
                    "mimeType": "video/rtx",
                    "payloadType": 98,
                    "clockRate": 90000,
                    "parameters": {"apt": 96},
                },
            ]
        }
    )
    with pytest.raises(InvalidParameterError, match="RTX PT 97 has apt 98, not a media codec"):
        ortc.get_producer_rtp_parameters_mapping(params, caps)


def test_random_ssrcs_are_in_node_range_and_consecutive_per_producer() -> None:
    """Mapped SSRCs start at one random base in [1e8, 1e9) and count up per encoding."""
    caps = ortc.generate_router_rtp_capabilities(ROUTER_CODECS)
    params = ortc.validate_rtp_parameters(
        {
            "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}],
            "encodings": [{"rid": "a"}, {"rid": "b"}, {"rid": "c"}],
        }
    )
    mapped = [
        e["mappedSsrc"] for e in ortc.get_producer_rtp_parameters_mapping(params, caps)["encodings"]
    ]
    assert 100_000_000 <= mapped[0] < 999_999_999
    assert mapped == [mapped[0], mapped[0] + 1, mapped[0] + 2]


def test_sctp_capabilities_and_parameters_validation() -> None:
    """The earlier-3.x SCTP validators: numbers required, copies returned."""
    caps = {"numStreams": {"OS": 1024, "MIS": 1024}}
    result = ortc.validate_sctp_capabilities(caps)
    assert result == caps and result is not caps and result["numStreams"] is not caps["numStreams"]
    with pytest.raises(InvalidParameterError, match="missing caps.numStreams"):
        ortc.validate_sctp_capabilities({})
    with pytest.raises(InvalidParameterError, match="missing numStreams.MIS"):
        ortc.validate_sctp_capabilities({"numStreams": {"OS": 1}})
    with pytest.raises(InvalidParameterError, match="missing numStreams.OS"):
        ortc.validate_num_sctp_streams({"OS": True, "MIS": 1})
    params = {"port": 5000, "OS": 1024, "MIS": 1024, "maxMessageSize": 262144}
    assert ortc.validate_sctp_parameters(params) == params
    with pytest.raises(InvalidParameterError, match="missing params.maxMessageSize"):
        ortc.validate_sctp_parameters({**params, "maxMessageSize": "1"})
    stream = ortc.validate_sctp_stream_parameters({"streamId": 3, "maxRetransmits": 2})
    assert stream == {"streamId": 3, "maxRetransmits": 2, "ordered": False}


def test_js_value_helpers_follow_javascript() -> None:
    """Truthiness, ``===`` and string conversion as the Node code relies on them."""
    assert [truthy(v) for v in (0, 0.0, "", None, False, [], {}, "0", 1)] == [
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        True,
        True,
    ]
    assert strict_eq(1, 1.0) and not strict_eq(True, 1) and not strict_eq("1", 1)
    assert not strict_eq({}, {}) and strict_eq(None, None)
    assert [js_str(v) for v in (None, True, 2.0, 222.222, [1, None, "a"], {})] == [
        "null",
        "true",
        "2",
        "222.222",
        "1,,a",
        "[object Object]",
    ]


def _node_reference() -> Path | None:
    """A directory whose node_modules holds mediasoup 3.16.0, if one is installed."""
    cache = Path(os.environ.get("CONFERENCE_CACHE", Path.home() / ".cache/conference"))
    for directory in (PACKAGE / "scripts/golden", cache / "node-reference"):
        if (directory / "node_modules/mediasoup/package.json").exists():
            return directory
    return None


def test_golden_files_are_reproducible_from_the_node_reference(tmp_path: Path) -> None:
    """Running the generator again gives exactly the committed golden vectors.

    `make test` installs the Node reference (scripts/setup-node-reference.sh), so this never
    skips: a missing reference is a failure.
    """
    assert shutil.which("node"), "node is required for the reference check"
    assert _node_reference() is not None, "run scripts/setup-node-reference.sh"
    subprocess.run(
        ["node", str(PACKAGE / "scripts/golden/make_ortc_vectors.mjs"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "NODE_REFERENCE_DIR": str(_node_reference())},
    )
    committed = sorted((PACKAGE / "tests/ortc/golden").glob("*.json"))
    assert [p.name for p in committed] == sorted(p.name for p in tmp_path.glob("*.json"))
    for path in committed:
        assert json.loads((tmp_path / path.name).read_text()) == json.loads(path.read_text())
