"""Hypothesis strategies for hostile meeting-socket traffic.

Two families:

* :func:`requests`: request envelopes of every registered type whose ``data`` mixes the
  schema's own fields (some right, most wrong: other types, out-of-range numbers, huge or
  control-character strings, NaN and Infinity, unknown keys) with ids that exist elsewhere:
  the victims' transports, producers, consumers and peers in the same meeting and in another
  meeting. The envelope itself is sometimes broken (a bad ``requestId``, ``data`` not an
  object, an unknown top-level key, a type that is not registered).
* :func:`frames`: raw frames: arbitrary JSON values, text that is not JSON, binary, frames over
  the size limit, deeply nested arrays.

Everything is plain data; ``ids`` are filled in by the test from its live call.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from rtc.websocket.envelope import MAX_MESSAGE_CHARS
from tests.rtc.conftest import DTLS_PARAMETERS, audio_parameters

__all__ = ["Frame", "frames", "json_values", "requests"]

Frame = tuple[str, Any]
"""``("text", str)`` or ``("bytes", bytes)``."""

_leaves = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "\u202e", "../../etc/passwd", "<script>", "' OR 1=1 --",
                     "%s%s%n", "x" * 3000]),
)
json_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
"""Any JSON value (NaN and Infinity included: Python's json reads them)."""


@st.composite
def _ids(draw: st.DrawFn, pool: list[str]) -> Any:
    """Mostly (7 in 10) ids that exist: the victims', another meeting's, the attacker's own."""
    if draw(st.integers(min_value=0, max_value=9)) < 7:
        return draw(st.sampled_from(pool))
    return draw(st.one_of(st.text(alphabet="abcdef0123456789-", min_size=1, max_size=64),
                          st.text(min_size=65, max_size=80), json_values))


@st.composite
def _sometimes_valid(draw: st.DrawFn, valid: Any) -> Any:
    """The valid value half the time, any JSON value otherwise."""
    if draw(st.booleans()):
        return valid
    return draw(json_values)


def _fields(ids: dict[str, list[str]], caps: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The schema fields of each request type, each drawn from right and wrong values."""
    transport = _ids(ids["transports"])
    producer = _ids(ids["producers"])
    consumer = _ids(ids["consumers"])
    peer = _ids(ids["peers"])
    layer = st.one_of(st.integers(min_value=-5, max_value=40), json_values)
    sctp = st.fixed_dictionaries({"numStreams": st.fixed_dictionaries({"OS": layer, "MIS": layer})})
    rtp = audio_parameters()
    bad_rtp = dict(rtp, codecs=[dict(rtp["codecs"][0], mimeType="audio/G729")])
    by_producer = {"producerId": producer}
    by_consumer = {"consumerId": consumer}
    by_transport = {"transportId": transport}
    return {
        "rtc:join": {"displayName": st.one_of(st.text(max_size=80), json_values),
                     "device": json_values,
                     "resume": st.one_of(st.fixed_dictionaries(
                         {"peerId": peer, "token": st.text(max_size=140)}), json_values)},
        "rtc:createTransport": {
            "direction": st.one_of(st.sampled_from(["send", "recv", "both", "SEND"]),
                                   json_values),
            "sctpCapabilities": st.one_of(sctp, json_values)},
        "rtc:connectTransport": {"transportId": transport,
                                 "dtlsParameters": _sometimes_valid(DTLS_PARAMETERS)},
        "rtc:produce": {"transportId": transport,
                        "kind": st.one_of(st.sampled_from(["audio", "video", "data"]),
                                          json_values),
                        "rtpParameters": st.one_of(st.just(rtp), st.just(bad_rtp), json_values),
                        "appData": st.one_of(st.just({"source": "screen"}), json_values),
                        "paused": json_values},
        "rtc:consume": {"transportId": transport, "producerId": producer,
                        "rtpCapabilities": _sometimes_valid(caps), "paused": json_values},
        "rtc:resumeConsumer": by_consumer, "rtc:pauseConsumer": by_consumer,
        "rtc:closeConsumer": by_consumer,
        "rtc:pauseProducer": by_producer, "rtc:resumeProducer": by_producer,
        "rtc:closeProducer": by_producer, "rtc:hostMuteProducer": by_producer,
        "rtc:setPreferredLayers": {"consumerId": consumer, "spatialLayer": layer,
                                   "temporalLayer": layer},
        "rtc:restartIce": by_transport, "rtc:closeTransport": by_transport,
        "rtc:getStats": {"transportId": transport, "producerId": producer,
                         "consumerId": consumer},
        "rtc:hostRemovePeer": {"peerId": peer},
        "rtc:leave": {}, "rtc:serverStats": {}, "ping": {}, "meeting:state": {},
    }


_request_ids = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=64),
    st.text(min_size=1, max_size=64),
    st.text(min_size=65, max_size=90),
    st.just(""),
    json_values,
)


@st.composite
def requests(draw: st.DrawFn, types: list[str], ids: dict[str, list[str]],
             caps: dict[str, Any]) -> dict[str, Any]:
    """One hostile request envelope (a dict, to be sent as JSON): mostly a registered type
    with a valid requestId and the type's own fields (so it reaches the handler and its
    ownership checks), sometimes a broken envelope."""
    fields = _fields(ids, caps)
    # Explicit odds (Hypothesis' one_of does not weight its branches): 8 in 10 registered.
    if draw(st.integers(min_value=0, max_value=9)) < 8:
        message_type: Any = draw(st.sampled_from(types))
    else:
        message_type = draw(st.one_of(st.sampled_from(
            ["rtc:teleport", "rtc:", "RTC:JOIN", "_private", "meeting_event"]), json_values))
    known = fields.get(message_type, {}) if isinstance(message_type, str) else {}
    shape = draw(st.integers(min_value=0, max_value=9))
    if shape < 6:
        data = draw(st.fixed_dictionaries(known))
    elif shape < 8:
        data = draw(st.fixed_dictionaries({}, optional={**known, "extra": json_values}))
    else:
        data = draw(json_values)
    if draw(st.integers(min_value=0, max_value=9)) < 8:
        return {"type": message_type, "data": data, "requestId": draw(st.text(
            alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=64))}
    return draw(st.fixed_dictionaries(
        {"type": st.just(message_type)},
        optional={"requestId": _request_ids, "data": st.just(data), "meta": json_values}))


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    """One raw frame, mostly not a well-formed request at all."""
    kind = draw(st.sampled_from(["json", "json", "text", "bytes", "oversize", "nested"]))
    if kind == "json":
        return "text", json.dumps(draw(json_values))
    if kind == "text":
        return "text", draw(st.text(min_size=1, max_size=200))  # the communicator needs 1+
    if kind == "bytes":
        return "bytes", draw(st.binary(min_size=1, max_size=200))
    if kind == "oversize":
        request_id = draw(st.text(alphabet="abc123", min_size=1, max_size=8))
        pad = "x" * (MAX_MESSAGE_CHARS + draw(st.integers(min_value=1, max_value=2000)))
        return "text", json.dumps({"type": "ping", "requestId": request_id,
                                   "data": {"pad": pad}})
    depth = draw(st.integers(min_value=100, max_value=30_000))
    return "text", "[" * depth + "]" * depth
