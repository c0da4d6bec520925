"""The CPU mediasoup-ctl spends on one peer's call set-up, without the socket (no Django).

A worker and a router; per round 100 peers, each: two WebRtcTransports (the send one with a
bitrate cap), both connected with fingerprints of their own, an Opus produce with its own
SSRC and CNAME, ``Router.can_consume`` and a paused consume of the previous peer's producer
with its own capabilities (decoded from JSON, as a socket request's are), then its resume.
What is measured is the event loop's thread CPU (``time.thread_time``) over a round, per
peer; the best of the rounds is printed (the least disturbed by the machine). Pin it to one
core (``taskset -c 1``) and run it from the tree whose library it should measure:
``PYTHONPATH=packages/mediasoup-ctl/src .venv/bin/python -m bench.library_peer``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

from mediasoup_ctl import create_worker
from mediasoup_ctl.testing import MEDIA_CODECS

from bench.signaling import opus_parameters

LISTEN = [{"protocol": "udp", "ip": "127.0.0.1"}]


def _fingerprint(index: int) -> dict[str, Any]:
    value = ":".join(f"{(index * 7 + n) % 256:02X}" for n in range(32))
    return {"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": value}]}


def _opus(index: int) -> dict[str, Any]:
    """The bench's browser Opus parameters with this peer's own SSRC and CNAME."""
    return opus_parameters(ssrc=100_000_000 + 7919 * (index % 100_000), cname=f"{index:08x}-cname")


async def _round(router: Any, caps_text: str, peers: int, offset: int) -> float:
    previous = None
    start = time.thread_time()
    for number in range(peers):
        index = offset + number
        caps = json.loads(caps_text)
        send = await router.create_webrtc_transport(listen_infos=LISTEN, enable_udp=True,
                                                    enable_tcp=True, prefer_udp=True,
                                                    initial_available_outgoing_bitrate=600_000)
        recv = await router.create_webrtc_transport(listen_infos=LISTEN, enable_udp=True,
                                                    enable_tcp=True, prefer_udp=True,
                                                    initial_available_outgoing_bitrate=600_000)
        await send.set_max_incoming_bitrate(1_500_000)
        await send.connect(dtls_parameters=_fingerprint(2 * index))
        await recv.connect(dtls_parameters=_fingerprint(2 * index + 1))
        producer = await send.produce(kind="audio", rtp_parameters=_opus(index))
        if previous is not None and router.can_consume(producer_id=previous.id,
                                                       rtp_capabilities=caps):
            consumer = await recv.consume(producer_id=previous.id, rtp_capabilities=caps,
                                          paused=True)
            await consumer.resume()
        previous = producer
    spent = time.thread_time() - start
    for transport in list(router._transports.values()):
        transport.close()
    return spent / peers


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    worker = await create_worker()
    try:
        router = await worker.create_router(media_codecs=MEDIA_CODECS)
        caps_text = json.dumps(router.rtp_capabilities)
        await _round(router, caps_text, 20, 10**4)  # warm-up
        results = [await _round(router, caps_text, args.peers, args.peers * r)
                   for r in range(args.rounds)]
    finally:
        worker.close()
    print(json.dumps({"ms_per_peer_best": round(min(results) * 1000, 3),
                      "ms_per_peer_all": [round(r * 1000, 3) for r in results],
                      "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    asyncio.run(main())
