"""A call cascaded over two nodes: what the hop costs in signaling and in media.

Two daphne nodes (``bench.cluster.ClusterTarget``, media on 127.0.0.1 and 127.0.0.2) with
``RTC_PEERS_PER_NODE=1``: the first peer's transports are on the owner (node0), the second
peer's on node1, driven by node0 through node-to-node operations (`rtc.cluster.cascade`).
Both sockets are on node0, so only the media objects' place differs. Two tables:

* **signaling**: ``rtc:createTransport`` + ``rtc:closeTransport`` ``--requests`` times for the
  owner's peer (its router local) and for the cascaded peer (each call an operation on
  node1): p50/p99 of each.
* **media**: both peers (aiortc bots) send audio and video; the seconds from publishing to
  the first decoded video frame of the other, then the video frames per second each decodes
  over ``--seconds`` (node0 → node1 crosses the SRTP pipe between the nodes, and back).

Usage::

    .venv/bin/python -m bench.cascade [--requests 100] [--seconds 10] [--json]

Needs PostgreSQL and Redis (``--redis``, default ``redis://127.0.0.1:6379/7``); one machine
runs both nodes and both clients: the figures compare shapes, not capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Samples, format_table, load_average, print_json  # noqa: E402
from bench.cluster import RELAY_SEED, ClusterTarget  # noqa: E402
from bots.peer import Bot  # noqa: E402
from bots.signaling import SignalingClient  # noqa: E402


async def _transports(client: SignalingClient, count: int, samples: Samples, name: str) -> None:
    for _ in range(count):
        start = time.perf_counter_ns()
        created = await client.request("rtc:createTransport", {"direction": "recv"})
        samples.add_ns(f"{name} create", start)
        start = time.perf_counter_ns()
        await client.request("rtc:closeTransport", {"transportId": created["id"]})
        samples.add_ns(f"{name} close", start)


async def signaling_row(target: ClusterTarget, data: dict[str, Any],
                        requests: int) -> dict[str, Any]:
    """createTransport/closeTransport on the owner's router and on the cascaded one."""
    node = target.cluster.nodes[0]
    clients = [SignalingClient(node.ws_url(data["meeting"], data[who]), origin=node.origin,
                               name=who) for who in ("host", "guest")]
    try:
        for client in clients:
            await client.connect()
            await client.request("rtc:join", {"displayName": client.name})
            # The first transport places the peer: the host on node0, the guest on node1.
            created = await client.request("rtc:createTransport", {"direction": "send"})
            client.candidates = {c["address"] for c in created["iceCandidates"]}  # type: ignore[attr-defined]
        samples = Samples()
        for client, name in zip(clients, ("local", "cascaded"), strict=True):
            await _transports(client, 10, Samples(), name)  # warm up
            await _transports(client, requests, samples, name)
        return {"requests": requests, "latency": samples.summary(),
                "addresses": [sorted(c.candidates) for c in clients]}  # type: ignore[attr-defined]
    finally:
        for client in clients:
            try:
                await client.request("rtc:leave", {})
            except Exception:  # noqa: S110 (closing anyway)
                pass
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def media_row(target: ClusterTarget, data: dict[str, Any], seconds: float
                    ) -> dict[str, Any]:
    """Two bots, one on each node's media: first frame, then decoded frames per second."""
    node = target.cluster.nodes[0]
    bots = [Bot(node.ws_url(data["meeting"], data[who]), origin=node.origin, name=who)
            for who in ("host", "guest")]
    try:
        for bot in bots:
            await bot.connect()
            await bot.join()
        started = time.monotonic()
        for bot in bots:
            await bot.publish()
        local, cascaded = bots
        first: dict[str, float] = {}
        async with asyncio.timeout(30):
            while len(first) < 2:
                for bot, other in ((local, cascaded), (cascaded, local)):
                    if bot.name not in first and bot.frames.get((other.peer_id, "video"), 0):
                        first[bot.name] = time.monotonic() - started
                await asyncio.sleep(0.02)
        before = {b.name: b.frames.get((o.peer_id, "video"), 0)
                  for b, o in ((local, cascaded), (cascaded, local))}
        await asyncio.sleep(seconds)
        fps = {b.name: (b.frames.get((o.peer_id, "video"), 0) - before[b.name]) / seconds
               for b, o in ((local, cascaded), (cascaded, local))}
        return {"seconds": seconds, "first_frame_s": {k: round(v, 2) for k, v in first.items()},
                "video_fps": {k: round(v, 1) for k, v in fps.items()}}
    finally:
        await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both tables on one two-node cluster (a meeting each)."""
    target = ClusterTarget(2, args.redis, env={"RTC_PEERS_PER_NODE": "1",
                                                "RTC_RECONNECT_GRACE_SECONDS": "0"})
    try:
        await asyncio.to_thread(target.open)
        signaling = await signaling_row(
            target, await asyncio.to_thread(target.cluster.shell, RELAY_SEED), args.requests)
        seed = RELAY_SEED.replace('"relay-host"', '"media-host"').replace(
            '"relay-guest"', '"media-guest"')
        media = await media_row(target, await asyncio.to_thread(target.cluster.shell, seed),
                                args.seconds)
    finally:
        await asyncio.to_thread(target.close)
    return {"signaling": signaling, "media": media, "load": load_average()}


def print_tables(results: dict[str, Any]) -> None:
    """The two tables, plain text."""
    latency = results["signaling"]["latency"]
    print(format_table(  # noqa: T201
        ["peer's router", "createTransport p50 ms", "p99 ms", "closeTransport p50 ms",
         "p99 ms", "candidates"],
        [[name, latency[f"{name} create"]["p50_ms"], latency[f"{name} create"]["p99_ms"],
          latency[f"{name} close"]["p50_ms"], latency[f"{name} close"]["p99_ms"],
          " ".join(addresses)]
         for name, addresses in zip(("local", "cascaded"), results["signaling"]["addresses"],
                                    strict=True)]), end="\n\n")
    media = results["media"]
    print(format_table(  # noqa: T201
        ["receiver", "first video frame s", f"video fps over {media['seconds']} s"],
        [["guest (node1) from host (node0)", media["first_frame_s"]["guest"],
          media["video_fps"]["guest"]],
         ["host (node0) from guest (node1)", media["first_frame_s"]["host"],
          media["video_fps"]["host"]]]), end="\n\n")
    print(f"load average at the end: {results['load']}")  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args))
    if args.json:
        print_json(results)
    else:
        print_tables(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
