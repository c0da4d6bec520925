"""Parity of mediasoup_ctl.ortc with mediasoup 3.16.0's Node layer, by golden vectors.

``scripts/golden/make_ortc_vectors.mjs`` ran Node's own ``ortc`` functions on each input and
stored the output or the error; here the Python functions run on the same input and must give
the same dict, or an error of the same kind whose message starts with Node's (Python may add
where the field is). Errors thrown by the JavaScript engine itself ("native", e.g. reading a
property of null) are compared by kind only. Random SSRCs follow the generator's sequence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mediasoup_ctl import h264, ortc
from mediasoup_ctl.errors import InvalidParameterError, MediasoupError, UnsupportedError
from mediasoup_ctl.scalability_modes import parse_scalability_mode

GOLDEN_DIR = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN_DIR.glob("*.json"))


def _resolve(value: Any, shared: dict[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"$ref"}:
        return json.loads(json.dumps(shared[value["$ref"]]))
    return value


def _load() -> Iterator[Any]:
    for path in FILES:
        doc = json.loads(path.read_text())
        random = doc["random"]
        for vector in doc["vectors"]:
            inputs = vector["input"]
            if isinstance(inputs, dict):
                inputs = {k: _resolve(v, doc["shared"]) for k, v in inputs.items()}
            vector = {**vector, "input": inputs, "random": random}
            yield pytest.param(vector, id=f"{path.stem}:{vector['fn']}:{vector['name']}")


VECTORS = list(_load())


class _Sequence:
    """The generator's deterministic replacement for random SSRCs."""

    def __init__(self, start: int, step: int) -> None:
        self.start, self.step, self.next = start, step, start

    def reset(self, calls_skipped: int = 0) -> None:
        self.next = self.start + calls_skipped * self.step

    def __call__(self) -> int:
        value = self.next
        self.next += self.step
        return value


def _produce(i: dict[str, Any]) -> dict[str, Any]:
    """Transport.produce()'s ortc steps, as the generator runs them in Node."""
    caps = ortc.generate_router_rtp_capabilities(i.get("mediaCodecs"))
    params = ortc.validate_rtp_parameters(i["rtpParameters"])
    if not params["encodings"]:
        params["encodings"] = [{}]
    mapping = ortc.get_producer_rtp_parameters_mapping(params, caps)
    consumable = ortc.get_consumable_rtp_parameters(i["kind"], params, caps, mapping)
    return {
        "rtpParameters": ortc.negotiate_producer_rtp_parameters(params, caps),
        "rtpMapping": mapping,
        "consumableRtpParameters": consumable,
    }


def _error(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, UnsupportedError):
        kind = "UnsupportedError"
    elif isinstance(exc, InvalidParameterError | ValueError):
        kind = "TypeError"
    elif type(exc) is MediasoupError:
        kind = "Error"
    else:
        raise exc
    return {"kind": kind, "message": str(exc)}


def _consume(i: dict[str, Any], seq: _Sequence) -> dict[str, Any]:
    consumable = _produce(i)["consumableRtpParameters"]
    result: dict[str, Any] = {"canConsume": ortc.can_consume(consumable, i["rtpCapabilities"])}
    seq.reset(50)
    try:
        result["consumer"] = {
            "rtpParameters": ortc.get_consumer_rtp_parameters(
                consumable_rtp_parameters=consumable,
                remote_rtp_capabilities=i["rtpCapabilities"],
                pipe=i["pipe"],
                enable_rtx=i["enableRtx"],
            )
        }
    except MediasoupError as exc:
        result["consumer"] = {"error": _error(exc)}
    return result


def _pipe_consume(i: dict[str, Any], seq: _Sequence) -> dict[str, Any]:
    consumable = _produce(i)["consumableRtpParameters"]
    seq.reset(50)
    return ortc.get_pipe_consumer_rtp_parameters(
        consumable_rtp_parameters=consumable, enable_rtx=i["enableRtx"]
    )


def _parse_plid(i: dict[str, Any]) -> dict[str, Any] | None:
    parsed = h264.parse_profile_level_id(i["plid"])
    if parsed is None:
        return None
    string = h264.profile_level_id_to_string(parsed)
    return {"profile": int(parsed.profile), "level": int(parsed.level), "string": string}


def _answer(i: dict[str, Any]) -> dict[str, Any]:
    return {
        "sameProfile": h264.is_same_profile(i["local"], i["remote"]),
        "answer": h264.generate_profile_level_id_string_for_answer(i["local"], i["remote"]),
    }


RUNNERS: dict[str, Callable[[dict[str, Any], _Sequence], Any]] = {
    "generateRouterRtpCapabilities": lambda i, s: ortc.generate_router_rtp_capabilities(
        i.get("mediaCodecs")
    ),
    "validateRtpCapabilities": lambda i, s: ortc.validate_rtp_capabilities(i["caps"]),
    "validateRtpParameters": lambda i, s: ortc.validate_rtp_parameters(i["params"]),
    "validateSctpStreamParameters": lambda i, s: ortc.validate_sctp_stream_parameters(i["params"]),
    "produce": lambda i, s: _produce(i),
    "consume": _consume,
    "pipeConsume": _pipe_consume,
    "canConsume": lambda i, s: ortc.can_consume(
        _produce(i)["consumableRtpParameters"], i["rtpCapabilities"]
    ),
    "parseScalabilityMode": lambda i, s: parse_scalability_mode(i["mode"]),
    "h264.parseProfileLevelId": lambda i, s: _parse_plid(i),
    "h264.answer": lambda i, s: _answer(i),
}


def _assert_same_error(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual["kind"] == expected["kind"], (actual, expected)
    if not expected["native"]:
        message = actual["message"]
        assert message == expected["message"] or message.startswith(
            expected["message"] + " (at "
        ), (message, expected["message"])


def test_golden_files_cover_enough_vectors() -> None:
    """The golden files exist, come from mediasoup 3.16.0 and hold 150+ vectors."""
    assert len(FILES) == 5
    for path in FILES:
        assert json.loads(path.read_text())["mediasoup"] == "3.16.0"
    assert len(VECTORS) >= 150


@pytest.mark.parametrize("vector", VECTORS)
def test_python_ortc_matches_node(vector: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's output (or error kind and message) equals what Node's ortc gave."""
    seq = _Sequence(vector["random"]["start"], vector["random"]["step"])
    monkeypatch.setattr(ortc, "generate_random_number", seq)
    inputs = json.loads(json.dumps(vector["input"]))
    try:
        output = RUNNERS[vector["fn"]](inputs, seq)
    except (MediasoupError, ValueError) as exc:
        assert "error" in vector, f"Python raised {exc!r}, Node gave {vector.get('output')!r}"
        _assert_same_error(_error(exc), vector["error"])
    else:
        assert "error" not in vector, f"Node raised {vector['error']}, Python gave {output!r}"
        if vector["fn"] == "consume" and "error" in vector["output"]["consumer"]:
            _assert_same_error(output["consumer"]["error"], vector["output"]["consumer"]["error"])
            output["consumer"] = vector["output"]["consumer"]
        assert output == vector["output"]
    assert inputs == vector["input"], "the input was modified"
