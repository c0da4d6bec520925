"""Soak: thousands of join/produce/consume/leave cycles against a live daphne, then a table.

Each cycle is one call's life on a meeting socket pair: A joins, creates and connects a send
transport and produces audio; B joins, creates a recv transport, consumes A's producer and
resumes it; B leaves, A leaves (the sockets stay open, as a client that leaves the call but
not the meeting). ``--pairs`` meetings run their cycles concurrently. After the warm-up and
after each quarter of the cycles (with every pair idle) a row shows what the server still
holds: its room model (``rtc:serverStats`` from a staff socket), the routers in each worker's
own dump, the resident memory of daphne (Python) and of its workers, and cycle latencies.
A leak shows as counts above zero or memory that keeps climbing from row to row.

    .venv/bin/python -m bench.soak                   # 2000 cycles over 8 meetings
    .venv/bin/python -m bench.soak --cycles 5000 --pairs 16
    .venv/bin/python -m bench.soak --quick           # 40 cycles (the smoke run)

The server is ``bench._server.DaphneServer`` (its own SQLite file, relaxed rate limits, no
reconnect grace, no DTLS deadline: the scripted peers never run DTLS), stopped with SIGTERM at
the end, so the polite shutdown runs too.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from typing import Any

from bench._common import format_table, load_average, print_json, summarize
from bench._server import DaphneServer
from bots.signaling import SignalingClient

__all__ = ["main"]

FINGERPRINT = ":".join(["AB"] * 32)
DTLS = {"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": FINGERPRINT}]}
MIB = 1024 * 1024
_ssrc = itertools.count(20_000_000, 10)
Pair = tuple[SignalingClient, SignalingClient]
"""The two sockets of one meeting: A produces, B consumes."""


def opus_parameters() -> dict[str, Any]:
    """Opus RtpSendParameters as a browser sends them (a fresh SSRC each time)."""
    return {
        "mid": "0",
        "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000,
                    "channels": 2, "parameters": {"useinbandfec": 1}, "rtcpFeedback": []}],
        "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1}],
        "encodings": [{"ssrc": next(_ssrc)}],
        "rtcp": {"cname": "soak"},
    }


async def open_socket(server: DaphneServer, meeting: str, token: str) -> SignalingClient:
    """A meeting socket, connected (``meeting.state`` read). Its events go unread: the soak
    only makes requests, so none are kept, however many cycles run."""
    client = SignalingClient(f"{server.url}/ws/meetings/{meeting}/?token={token}",
                             origin=server.origin, name="soak", timeout=30, keep_events=False)
    await client.connect()
    return client


async def cycle(a: SignalingClient, b: SignalingClient) -> float:
    """One call's life; its duration in milliseconds."""
    started = time.perf_counter()
    joined = await a.request("rtc:join", {"displayName": "A"})
    send = await a.request("rtc:createTransport", {"direction": "send"})
    await a.request("rtc:connectTransport", {"transportId": send["id"], "dtlsParameters": DTLS})
    producer = await a.request("rtc:produce", {"transportId": send["id"], "kind": "audio",
                                               "rtpParameters": opus_parameters(),
                                               "appData": {"source": "mic"}})
    await b.request("rtc:join", {"displayName": "B"})
    recv = await b.request("rtc:createTransport", {"direction": "recv"})
    consumed = await b.request("rtc:consume", {"transportId": recv["id"],
                                               "producerId": producer["id"],
                                               "rtpCapabilities": joined["routerRtpCapabilities"]})
    await b.request("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    await b.request("rtc:leave")
    await a.request("rtc:leave")
    return (time.perf_counter() - started) * 1000


async def _batch(pairs: list[Pair], cycles: int) -> list[float]:
    """``cycles`` cycles spread over the pairs, each pair running its share in sequence."""
    shares = [cycles // len(pairs) + (1 if i < cycles % len(pairs) else 0)
              for i in range(len(pairs))]

    async def run(pair: Pair, count: int) -> list[float]:
        return [await cycle(*pair) for _ in range(count)]

    results = await asyncio.gather(*(run(pair, n) for pair, n in zip(pairs, shares,
                                                                      strict=True)))
    return [ms for durations in results for ms in durations]


async def _row(server: DaphneServer, ops: SignalingClient, label: str, done: int,
               durations: list[float]) -> dict[str, Any]:
    """What the server holds now, with every pair idle."""
    stats = await ops.request("rtc:serverStats")
    daphne, _, workers = server.sample()
    latency = summarize(durations) if durations else {}
    return {
        "row": label, "cycles": done,
        "rooms": stats["rooms"], "peers": stats["peers"], "transports": stats["transports"],
        "producers": stats["producers"], "consumers": stats["consumers"],
        "worker_routers": sum(len(d["routerIds"]) for d in stats["workerDumps"]),
        "daphne_rss_mib": round(daphne.rss / MIB, 1),
        "workers_rss_mib": round(sum(w.rss for w in workers) / MIB, 1),
        "cycle_p50_ms": round(latency.get("p50_ms", float("nan")), 1),
        "cycle_p99_ms": round(latency.get("p99_ms", float("nan")), 1),
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Start the server, run the warm-up and the measured cycles, return the rows."""
    server = DaphneServer()
    try:
        data = server.prepare(users=2 * args.pairs + 1, meetings=args.pairs, capacity=10)
        staff_token = data["tokens"][-1]
        users, meetings = data["users"], data["meetings"]
        server.invite([(meetings[0], users[-1])]
                      + [(m, users[2 * i + k]) for i, m in enumerate(meetings) for k in (0, 1)])
        server.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      "get_user_model().objects.filter(auth_token__key="
                      f"{staff_token!r}).update(is_staff=True)")
        server.start()
        ops = await open_socket(server, data["meetings"][0], staff_token)
        pairs = []
        for i, meeting in enumerate(data["meetings"]):
            pairs.append((await open_socket(server, meeting, data["tokens"][2 * i]),
                          await open_socket(server, meeting, data["tokens"][2 * i + 1])))
        rows = []
        warm = await _batch(pairs, args.warm_up)
        rows.append(await _row(server, ops, "after warm-up", 0, warm))
        done, quarter = 0, max(1, args.cycles // 4)
        while done < args.cycles:
            count = min(quarter, args.cycles - done)
            durations = await _batch(pairs, count)
            done += count
            rows.append(await _row(server, ops, f"after {done}", done, durations))
        for a, b in pairs:
            await a.close()
            await b.close()
        await asyncio.sleep(0.5)
        rows.append(await _row(server, ops, "sockets closed", done, []))
        await ops.close()
        return rows
    finally:
        server.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print the table (or JSON); 1 if anything was left behind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=2000, help="measured cycles")
    parser.add_argument("--pairs", type=int, default=8, help="meetings cycling at once")
    parser.add_argument("--warm-up", type=int, default=80, help="cycles before the baseline")
    parser.add_argument("--quick", action="store_true", help="40 cycles, 4 pairs")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args(argv)
    if args.quick:
        args.cycles, args.pairs, args.warm_up = 40, 4, 8
    rows = asyncio.run(run(args))
    if args.json:
        print_json(rows)
    else:
        headers = list(rows[0])
        print(format_table(headers, [[row[h] for h in headers] for row in rows]))
        growth = rows[-2]["daphne_rss_mib"] - rows[0]["daphne_rss_mib"]
        print(f"\ncycles {args.cycles} over {args.pairs} meetings; daphne RSS after warm-up "
              f"{rows[0]['daphne_rss_mib']} MiB, after the cycles {rows[-2]['daphne_rss_mib']} "
              f"MiB ({growth:+.1f}); load {load_average()}")
    held = [k for k in ("rooms", "peers", "transports", "producers", "consumers",
                        "worker_routers") if any(row[k] for row in rows)]
    if held:
        print(f"left behind: {held}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
