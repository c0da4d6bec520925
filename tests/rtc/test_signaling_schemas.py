"""The rtc:* request schemas, without a worker or a database: what passes, what is refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.fields import check_json
from rtc.signaling.routes import ROUTES, parse_request
from rtc.signaling.schemas import (
    ConsumeRequest,
    CreateTransportRequest,
    JoinRequest,
    ProduceRequest,
    Resume,
)
from rtc.websocket.envelope import registry

ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
FINGERPRINT = ":".join(["AB"] * 32)
DTLS = {"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": FINGERPRINT}]}
RTP_PARAMETERS: dict[str, Any] = {
    "mid": "0",
    "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000,
                "channels": 2, "parameters": {"useinbandfec": 1}, "rtcpFeedback": []}],
    "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1}],
    "encodings": [{"ssrc": 1111}],
    "rtcp": {"cname": "abc"},
}
RTP_CAPABILITIES: dict[str, Any] = {
    "codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2,
                "preferredPayloadType": 100}],
    "headerExtensions": [],
}


def invalid(request_type: str, data: Any) -> SignalingError:
    with pytest.raises(SignalingError) as info:
        parse_request(request_type, data)
    assert info.value.code is ErrorCode.INVALID, info.value
    return info.value


def test_every_request_type_has_a_parser_and_unknown_types_are_refused() -> None:
    """The server knows every request of the protocol table; anything else is unknown_type."""
    table = {"rtc:join", "rtc:createTransport", "rtc:connectTransport", "rtc:produce",
             "rtc:consume", "rtc:resumeConsumer", "rtc:pauseProducer", "rtc:resumeProducer",
             "rtc:closeProducer", "rtc:setPreferredLayers", "rtc:restartIce", "rtc:getStats",
             "rtc:leave", "rtc:hostMuteProducer", "rtc:hostRemovePeer", "rtc:pauseConsumer",
             "rtc:closeConsumer", "rtc:closeTransport", "rtc:serverStats",
             "rtc:startRecording", "rtc:stopRecording",
             "chat:send", "chat:history", "chat:delete", "hand:raise", "hand:lower",
             "hand:list", "reaction:send", "whiteboard:draw", "whiteboard:erase",
             "whiteboard:clear", "whiteboard:pointer", "whiteboard:state", "lobby:list",
             "lobby:admit", "lobby:deny"}
    assert table == set(ROUTES)
    assert table <= registry.types, "every schema has a handler on the meeting socket"
    for name in ("rtc:nope", "rtc:_private", "", "RTC:JOIN"):
        with pytest.raises(SignalingError) as info:
            parse_request(name, {})
        assert info.value.code is ErrorCode.UNKNOWN_TYPE


def test_join_normalises_the_display_name_and_reads_device_and_resume() -> None:
    """Whitespace runs collapse; device and resume come back typed."""
    request = parse_request("rtc:join", {
        "displayName": "  Ada \t Lovelace ", "device": {"flag": "chrome", "version": "120"},
        "resume": {"peerId": ID, "token": "t0k3n"},
    })
    assert request == JoinRequest(display_name="Ada Lovelace",
                                  device={"flag": "chrome", "version": "120"},
                                  resume=Resume(peer_id=ID, token="t0k3n"))
    assert (request.resume_peer_id, request.resume_token) == (ID, "t0k3n")


@pytest.mark.parametrize("data", [
    {},
    {"displayName": ""},
    {"displayName": "   "},
    {"displayName": 5},
    {"displayName": "x" * 65},
    {"displayName": "bell\x07"},
    {"displayName": "evil\u202egnp.exe"},
    {"displayName": "ok", "device": "chrome"},
    {"displayName": "ok", "device": {"flag": 1}},
    {"displayName": "ok", "device": {f"k{i}": "v" for i in range(9)}},
    {"displayName": "ok", "resume": {"peerId": ID}},
    {"displayName": "ok", "resume": {"peerId": "../etc", "token": "x"}},
    {"displayName": "ok", "resume": {"peerId": ID, "token": "x", "extra": 1}},
    {"displayName": "ok", "isHost": True},
])
def test_join_refuses_bad_names_devices_and_resume(data: dict[str, Any]) -> None:
    """Empty, oversize, non-string or control-character names and bad extras are invalid."""
    invalid("rtc:join", data)


def test_create_transport_reads_direction_and_sctp() -> None:
    """Direction is send or recv; SCTP capabilities are copied in their fixed shape."""
    request = parse_request("rtc:createTransport", {
        "direction": "send", "sctpCapabilities": {"numStreams": {"OS": 1024, "MIS": 1024}}})
    assert request == CreateTransportRequest(
        direction="send", sctp_capabilities={"numStreams": {"OS": 1024, "MIS": 1024}})
    assert parse_request("rtc:createTransport", {"direction": "recv"}) == \
        CreateTransportRequest(direction="recv")


@pytest.mark.parametrize("data", [
    {},
    {"direction": "both"},
    {"direction": ["send"]},
    {"direction": "send", "sctpCapabilities": {"numStreams": {"OS": 0, "MIS": 1}}},
    {"direction": "send", "sctpCapabilities": {"numStreams": {"OS": True, "MIS": 1}}},
    {"direction": "send", "sctpCapabilities": {"numStreams": {"OS": 70000, "MIS": 1}}},
    {"direction": "send", "sctpCapabilities": {}},
    {"direction": "send", "forceTcp": True},
])
def test_create_transport_refuses_bad_input(data: dict[str, Any]) -> None:
    """Unknown directions, wrong SCTP numbers and unknown fields are invalid."""
    invalid("rtc:createTransport", data)


def test_connect_transport_keeps_only_known_dtls_fields() -> None:
    """A well-formed DTLS fingerprint passes through unchanged."""
    request = parse_request("rtc:connectTransport",
                            {"transportId": ID, "dtlsParameters": copy.deepcopy(DTLS)})
    assert request.transport_id == ID
    assert request.dtls_parameters == DTLS


@pytest.mark.parametrize("dtls", [
    None,
    {},
    {"fingerprints": []},
    {"fingerprints": [{"algorithm": "md5", "value": FINGERPRINT}]},
    {"fingerprints": [{"algorithm": "sha-256", "value": "nothex"}]},
    {"fingerprints": [{"algorithm": "sha-256", "value": FINGERPRINT + "\n"}]},
    {"role": "master", "fingerprints": DTLS["fingerprints"]},
    {"fingerprints": DTLS["fingerprints"] * 9},
    {"fingerprints": DTLS["fingerprints"], "extra": 1},
])
def test_connect_transport_refuses_bad_dtls(dtls: Any) -> None:
    """Missing, empty, unknown-algorithm, malformed or oversize fingerprints are invalid."""
    invalid("rtc:connectTransport", {"transportId": ID, "dtlsParameters": dtls})


@pytest.mark.parametrize("transport_id", [None, "", 12, "a" * 65, "id with space", "x/../y",
                                          "abc\n"])
def test_ids_must_be_short_url_safe_strings(transport_id: Any) -> None:
    """An id that could never have come from this server is refused before any lookup."""
    invalid("rtc:restartIce", {"transportId": transport_id})


def test_produce_accepts_mediasoup_rtp_parameters_and_app_data() -> None:
    """A browser-like producer request is returned typed, appData included."""
    request = parse_request("rtc:produce", {
        "transportId": ID, "kind": "audio", "rtpParameters": RTP_PARAMETERS,
        "appData": {"source": "mic", "label": "Headset"}})
    assert isinstance(request, ProduceRequest)
    assert request.kind == "audio" and request.paused is False
    assert request.app_data == {"source": "mic", "label": "Headset"}


@pytest.mark.parametrize("patch", [
    {"kind": "data"},
    {"rtpParameters": []},
    {"rtpParameters": {"codecs": []}},
    {"rtpParameters": {"codecs": ["opus"]}},
    {"rtpParameters": {**RTP_PARAMETERS, "encodings": [{}] * 9}},
    {"rtpParameters": {**RTP_PARAMETERS, "mid": "x" * 2000}},
    {"rtpParameters": {**RTP_PARAMETERS, "rtcp": {"cname": float("nan")}}},
    {"rtpParameters": {**RTP_PARAMETERS, "rtcp": {"cname": 2**60}}},
    {"appData": {"source": "webcam"}},
    {"appData": {"source": "radio"}},
    {"appData": "mic"},
    {"appData": {"blob": "x" * 2000}},
    {"paused": "yes"},
])
def test_produce_refuses_bad_kind_parameters_and_app_data(patch: dict[str, Any]) -> None:
    """Wrong kinds, empty or oversize parameters, a source that contradicts the kind, bad flags."""
    data = {"transportId": ID, "kind": "audio", "rtpParameters": RTP_PARAMETERS, **patch}
    invalid("rtc:produce", data)


def test_consume_defaults_to_paused() -> None:
    """Consumers start paused unless the client asks otherwise."""
    request = parse_request("rtc:consume", {"transportId": ID, "producerId": ID,
                                            "rtpCapabilities": RTP_CAPABILITIES})
    assert request == ConsumeRequest(transport_id=ID, producer_id=ID,
                                     rtp_capabilities=RTP_CAPABILITIES, paused=True)


def test_consume_refuses_missing_or_huge_capabilities() -> None:
    """Capabilities are required, must list codecs, and are bounded in size."""
    base = {"transportId": ID, "producerId": ID}
    invalid("rtc:consume", base)
    invalid("rtc:consume", {**base, "rtpCapabilities": {"codecs": []}})
    huge = {"codecs": [dict(RTP_CAPABILITIES["codecs"][0], x="y" * 1000) for _ in range(60)]}
    assert "too large" in invalid("rtc:consume", {**base, "rtpCapabilities": huge}).message


def test_layers_stats_and_leave_schemas() -> None:
    """Layer numbers are bounded; getStats names exactly one object; leave takes nothing."""
    request = parse_request("rtc:setPreferredLayers",
                            {"consumerId": ID, "spatialLayer": 2, "temporalLayer": 1})
    assert (request.spatial_layer, request.temporal_layer) == (2, 1)
    invalid("rtc:setPreferredLayers", {"consumerId": ID, "spatialLayer": -1})
    invalid("rtc:setPreferredLayers", {"consumerId": ID, "spatialLayer": 16})
    invalid("rtc:setPreferredLayers", {"consumerId": ID, "spatialLayer": 1.5})
    stats = parse_request("rtc:getStats", {"producerId": ID})
    assert (stats.target, stats.object_id) == ("producer", ID)
    invalid("rtc:getStats", {})
    invalid("rtc:getStats", {"producerId": ID, "consumerId": ID})
    assert parse_request("rtc:leave", None) == parse_request("rtc:leave", {})
    invalid("rtc:leave", {"now": True})


def test_data_must_be_an_object() -> None:
    """A list, string or number as data is refused with a clear message."""
    for data in ([], "x", 3, True):
        assert invalid("rtc:join", data).message == "data must be an object"


def test_check_json_bounds_depth_nodes_and_types() -> None:
    """Deep nesting, too many nodes and non-JSON values are refused quickly."""
    deep: Any = []
    for _ in range(50):
        deep = [deep]
    with pytest.raises(SignalingError, match="nested"):
        check_json(deep, "x", max_bytes=10_000)
    with pytest.raises(SignalingError, match="too large"):
        check_json(list(range(5000)), "x", max_bytes=10**6)
    with pytest.raises(SignalingError, match="plain JSON"):
        check_json({"a": {1, 2}}, "x", max_bytes=100)
    check_json(json.loads(json.dumps(RTP_PARAMETERS)), "x", max_bytes=10_000)


def test_error_reply_shape() -> None:
    """A SignalingError renders as the protocol's error reply."""
    error = SignalingError(ErrorCode.ROOM_FULL, "the meeting is full")
    assert error.reply("r1") == {"requestId": "r1", "error": "the meeting is full",
                                 "code": "room_full"}


def _reference_check_json(value: Any, where: str, *, max_bytes: int, max_depth: int = 8,
                          max_nodes: int = 4000, max_string: int = 1024) -> None:
    """check_json as first written (isinstance checks, json.dumps per call): the reference
    the faster walk and its memo must agree with."""
    import math

    from rtc.signaling.fields import MAX_SAFE_INT
    from rtc.signaling.fields import invalid as bad

    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise bad(f"{where} is too large")
        if depth > max_depth:
            raise bad(f"{where} is nested too deeply")
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) > MAX_SAFE_INT:
                raise bad(f"{where} has an integer out of range")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise bad(f"{where} has a number out of range")
        elif isinstance(item, str):
            if len(item) > max_string:
                raise bad(f"{where} has a string that is too long")
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or len(key) > max_string:
                    raise bad(f"{where} has a bad key")
                stack.append((child, depth + 1))
        else:
            raise bad(f"{where} is not plain JSON")
    try:
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError):
        raise bad(f"{where} is not plain JSON") from None
    if size > max_bytes:
        raise bad(f"{where} is too large")


def _verdict(check: Any, value: Any, **bounds: Any) -> str | None:
    try:
        check(value, "v", **bounds)
    except SignalingError as error:
        return error.message
    return None


class _Str(str):
    pass


def test_check_json_agrees_with_the_reference_walk_and_its_memo_keeps_nothing_wrong() -> None:
    """On random JSON-like values (nested objects and lists, big and unsafe integers, NaN and
    infinities, long strings, booleans against 1, str subclasses, sets, bad keys) and several
    bounds, check_json gives the reference's verdict, the first time and again (its memo of
    passed values); a value that passed lets no near-twin through (True for 1, 1.0 for 1, a
    larger integer, NaN) nor itself under tighter bounds."""
    import random

    rng = random.Random(13)
    leaves: list[Any] = [None, True, False, 0, 1, 1.0, -0.0, 2**53 - 1, 2**53, -(2**60),
                         float("nan"), float("inf"), "", "x" * 20, "y" * 1100, _Str("s"),
                         {1, 2}, 3.5]

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth > 10 or roll < 0.4:
            return rng.choice(leaves)
        if roll < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        out: dict[Any, Any] = {}
        for index in range(rng.randint(0, 4)):
            key: Any = rng.choice([f"k{index}", "z" * 1100, 7]) if rng.random() < 0.05 \
                else f"k{index}"
            out[key] = value(depth + 1)
        return out

    bounds_choices = [{"max_bytes": 10_000}, {"max_bytes": 60},
                      {"max_bytes": 10_000, "max_depth": 3, "max_string": 256},
                      {"max_bytes": 10_000, "max_nodes": 12}]
    checked = 0
    for _ in range(3000):
        candidate = {"a": value(1), "b": value(1)} if rng.random() < 0.8 else value(0)
        bounds = rng.choice(bounds_choices)
        expected = _verdict(_reference_check_json, candidate, **bounds)
        assert _verdict(check_json, candidate, **bounds) == expected
        assert _verdict(check_json, candidate, **bounds) == expected  # memo, if it passed
        checked += expected is None
    assert checked > 300  # enough values passed (and were remembered) to mean something
    passed = {"n": 1, "list": [1, "a", {"deep": 2**53 - 1}]}
    assert _verdict(check_json, passed, max_bytes=100) is None
    for twin in ({"n": True, "list": [1, "a", {"deep": 2**53 - 1}]},
                 {"n": 1.0, "list": [1, "a", {"deep": 2**53 - 1}]},
                 {"n": 1, "list": [1, "a", {"deep": 2**53}]},
                 {"n": float("nan"), "list": [1, "a", {"deep": 2**53 - 1}]}):
        assert _verdict(check_json, twin, max_bytes=100) == \
            _verdict(_reference_check_json, twin, max_bytes=100)
        assert _verdict(check_json, twin, max_bytes=100) is not None or twin["n"] == 1
    assert _verdict(check_json, passed, max_bytes=20) == "v is too large"
    assert _verdict(check_json, passed, max_bytes=100, max_depth=2) == "v is nested too deeply"
