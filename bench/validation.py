"""What validating one request's ``data`` costs, per request type (no socket, no worker).

The route table (`rtc.signaling.routes`) validates each request into a pydantic v2 model
before anything else; this measures that step alone, so a change of the schemas can be held
to "not slower". It runs against whichever implementation the checkout has (``routes.
parse_request``, or the hand-written ``schemas.parse_request`` it replaced), so the same
script measures before and after. Usage::

    flock /tmp/conference-bench.lock .venv/bin/python -m bench.validation [--number N] [--json]

Columns: ns per request (best of 5 runs of N calls), for a well-formed request as a browser
sends it, and for a refused one (``invalid``: the error path builds its message).
"""

from __future__ import annotations

import argparse
import json
import os
import timeit
from collections.abc import Callable
from typing import Any

ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
FINGERPRINT = ":".join(["AB"] * 32)
RTP = {"mid": "0",
       "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000,
                   "channels": 2, "parameters": {"useinbandfec": 1}, "rtcpFeedback": []}],
       "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1}],
       "encodings": [{"ssrc": 1111}], "rtcp": {"cname": "abc"}}
CAPS = {"codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000,
                    "channels": 2, "preferredPayloadType": 100},
                   {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000,
                    "preferredPayloadType": 101, "rtcpFeedback": [{"type": "nack"}]}],
        "headerExtensions": [{"kind": "audio", "uri": "urn:ietf:params:rtp-hdrext:sdes:mid",
                              "preferredId": 1}]}

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("rtc:join", {"displayName": "Ada Lovelace", "device": {"flag": "chrome", "version": "120"}},
     {"displayName": ""}),
    ("rtc:createTransport", {"direction": "send"}, {"direction": "both"}),
    ("rtc:connectTransport",
     {"transportId": ID, "dtlsParameters": {"role": "client", "fingerprints": [
         {"algorithm": "sha-256", "value": FINGERPRINT}]}},
     {"transportId": ID, "dtlsParameters": {"fingerprints": []}}),
    ("rtc:produce", {"transportId": ID, "kind": "audio", "rtpParameters": RTP,
                     "appData": {"source": "mic"}},
     {"transportId": ID, "kind": "data", "rtpParameters": RTP}),
    ("rtc:consume", {"transportId": ID, "producerId": ID, "rtpCapabilities": CAPS},
     {"transportId": "bad id", "producerId": ID, "rtpCapabilities": CAPS}),
    ("rtc:resumeConsumer", {"consumerId": ID}, {"consumerId": 5}),
    ("rtc:pauseProducer", {"producerId": ID}, {"producerId": ID, "extra": 1}),
    ("rtc:setPreferredLayers", {"consumerId": ID, "spatialLayer": 2, "temporalLayer": 1},
     {"consumerId": ID, "spatialLayer": 16}),
    ("rtc:getStats", {"producerId": ID}, {}),
    ("rtc:leave", {}, {"now": True}),
]


def _parser() -> tuple[str, Callable[[str, Any], Any]]:
    """The checkout's validation entry point and its name."""
    try:
        from rtc.signaling.routes import parse_request

        return "routes (pydantic)", parse_request
    except ImportError:
        from rtc.signaling.schemas import parse_request

        return "schemas (hand-written)", parse_request


def _time(call: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e9


def main() -> None:
    """Print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conference.settings")
    import django

    django.setup()
    from rtc.signaling.errors import SignalingError

    name, parse = _parser()

    def refused(request_type: str, data: dict[str, Any]) -> None:
        try:
            parse(request_type, data)
        except SignalingError:
            return
        raise AssertionError(f"{request_type} {data} was accepted")

    rows = []
    for request_type, good, bad in CASES:
        parse(request_type, good)
        refused(request_type, bad)
        rows.append({"type": request_type,
                     "valid_ns": round(_time(lambda t=request_type, d=good: parse(t, d),
                                             args.number)),
                     "invalid_ns": round(_time(lambda t=request_type, d=bad: refused(t, d),
                                               args.number))})
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"implementation": name, "load1": load, "rows": rows}))
        return
    print(f"validation per request: {name}, load {load:.2f}")
    print(f"{'request':<24}{'valid ns':>10}{'invalid ns':>12}")
    for row in rows:
        print(f"{row['type']:<24}{row['valid_ns']:>10}{row['invalid_ns']:>12}")


if __name__ == "__main__":
    main()
