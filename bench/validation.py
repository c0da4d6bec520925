"""What validating one request's ``data`` costs, per request type (no socket, no worker).

The route table (`rtc.signaling.routes`) validates each request into a pydantic v2 model
before anything else; this measures that step alone, so a change of the schemas can be held
to "not slower". It runs against whichever implementation the checkout has (``routes.
parse_request``, or the hand-written ``schemas.parse_request`` it replaced), so the same
script measures before and after; ``--against REV`` also loads the hand-written parsers of
git revision REV (``rtc/signaling/schemas.py`` as it was, e.g. ``1b16399``) and times both
in turns in one process, which is what to compare on a loaded machine. Usage::

    flock /tmp/conference-bench.lock .venv/bin/python -m bench.validation [--number N]
        [--against REV] [--quick] [--json]

Columns: ns per request (best of 7 runs of N calls, the two implementations alternating), for
a well-formed request as a browser sends it, and for a refused one (``invalid``: the error
path builds its message).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
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


def _legacy(revision: str) -> Callable[[str, Any], Any]:
    """``parse_request`` of the hand-written schemas at git ``revision``."""
    source = subprocess.run(["git", "show", f"{revision}:rtc/signaling/schemas.py"],
                            check=True, capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location("legacy_schemas", file.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["legacy_schemas"] = module
    spec.loader.exec_module(module)
    os.unlink(file.name)
    return module.parse_request  # type: ignore[no-any-return]


def _times(calls: list[Callable[[], Any]], number: int) -> list[float]:
    """Best ns per call of each, the calls taking turns (fair on a busy machine)."""
    best = [float("inf")] * len(calls)
    for _ in range(7):
        for index, call in enumerate(calls):
            best[index] = min(best[index], timeit.timeit(call, number=number) / number * 1e9)
    return best


def main(argv: list[str] | None = None) -> None:
    """Print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="100 calls a run (a smoke run)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--against", metavar="REV",
                        help="also time the hand-written parsers of this git revision")
    args = parser.parse_args(argv)
    if args.quick:
        args.number = 100
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conference.settings")
    import django

    django.setup()
    from rtc.signaling.errors import SignalingError

    name, parse = _parser()
    parsers = [(name, parse)]
    if args.against:
        parsers.append((f"hand-written at {args.against}", _legacy(args.against)))

    def refuser(fn: Callable[[str, Any], Any], request_type: str,
                data: dict[str, Any]) -> Callable[[], None]:
        def refused() -> None:
            try:
                fn(request_type, data)
            except SignalingError:
                return
            raise AssertionError(f"{request_type} {data} was accepted")

        return refused

    rows = []
    for request_type, good, bad in CASES:
        valid = _times([lambda f=fn, t=request_type, d=good: f(t, d) for _, fn in parsers],
                       args.number)
        invalid = _times([refuser(fn, request_type, bad) for _, fn in parsers], args.number)
        row: dict[str, Any] = {"type": request_type}
        for index, (label, _) in enumerate(parsers):
            row[label] = {"valid_ns": round(valid[index]), "invalid_ns": round(invalid[index])}
        rows.append(row)
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"load1": load, "rows": rows}))
        return
    labels = [label for label, _ in parsers]
    print(f"validation per request (ns, best of 7), load {load:.2f}: " + " | ".join(
        f"[{i}] {label}" for i, label in enumerate(labels)))
    header = "".join(f"{f'valid[{i}]':>11}{f'invalid[{i}]':>13}" for i in range(len(labels)))
    print(f"{'request':<24}{header}")
    for row in rows:
        cells = "".join(f"{row[label]['valid_ns']:>11}{row[label]['invalid_ns']:>13}"
                        for label in labels)
        print(f"{row['type']:<24}{cells}")


if __name__ == "__main__":
    main()
