"""rtc:* signaling under load: N concurrent WebSocket peers against a live daphne.

For each row size N, a fresh daphne (``bench/_server.py``) serves N peers spread over
meetings of ``--per-meeting`` peers. The peers arrive uniformly at ``--rate`` peers per second
(or over ``--ramp`` seconds whatever N; 0 means all at once) and each runs the call set-up a
browser runs::

    connect (?token=) → rtc:join → rtc:createTransport send → rtc:createTransport recv
      → rtc:connectTransport send → rtc:produce (Opus) → rtc:consume (another peer's
      producer, learnt from the join reply or rtc:newProducer) → rtc:connectTransport recv
      → rtc:resumeConsumer

then stays connected until every peer is done, so N sockets are open at the end. Each peer is a
``bots.signaling.SignalingClient`` used as a browser uses its socket: uncompressed, no pings,
rtc:join sent as soon as the socket opens. DTLS never completes (the fingerprint is
syntactically valid, nobody answers), which the server's connect does not wait for. Usage::

    .venv/bin/python -m bench.signaling [--quick] [--sizes 10,50,100,200,500]
                                        [--per-meeting 10] [--rate 40 | --ramp S]
                                        [--redis URL] [--database sqlite|inherit]
                                        [--profile-server PATH] [--trace-server PATH]
                                        [--json]

Columns: latency p50/p99 per request type (client side: request sent → reply parsed),
``open→joined`` (the socket's opening started → rtc:join answered: what the join costs a user,
the handshake and whatever a server does before accepting included; ``rtc:join`` alone starts
once the socket is open), ``join→
produced`` (rtc:join sent → rtc:produced: the peer's track is consumable by others, the
join-to-consumable time), ``known→consuming`` (another peer's producer known, from the join
reply or rtc:newProducer, and this peer's track produced → rtc:resumeConsumer answered),
``join→consumed`` (the whole set-up, including the wait for another peer), ``errors``
(error replies, timeouts, refused or dropped connections: must be 0), and the server's cost:
daphne CPU ms per peer (and how much of it its main thread, the event loop, used), the busy
share of the event loop and of daphne's other threads (the executor where Channels runs every
database call) over the row, daphne RSS KiB per peer, and the mediasoup workers' CPU ms and
RSS KiB per peer (deltas from the idle server, warmed up by two peers that ran the flow and
left, to all N peers connected, from /proc), and the benchmark client's own CPU ms per peer.
Then every peer closes its socket at once (a meeting ending on the hour): ``teardown s``, from
the first close until the server is idle again (its CPU under 2 % of a core over 0.1 s; that
last 0.1 s included), and ``teardown CPU ms``, the server's CPU per peer over it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Samples, format_table, load_average, print_json  # noqa: E402
from bench._node_server import NodeSignalingServer, node_reference_ready  # noqa: E402
from bench._server import DaphneServer  # noqa: E402
from bots.join_trace import step_table  # noqa: E402

try:
    from bots.signaling import SignalingClient, SignalingError, SocketClosed
except ImportError:  # pragma: no cover - websockets missing: told to the user in main()
    SignalingClient = None  # type: ignore[assignment,misc]

__all__ = ["main", "run_row"]

REQUEST_TIMEOUT = 30.0
REQUEST_TYPES = ["rtc:join", "rtc:createTransport", "rtc:connectTransport", "rtc:produce",
                 "rtc:consume", "rtc:resumeConsumer"]
FLOW_TIMES = ["open→joined", "join→produced", "known→consuming", "join→consumed"]
DTLS_PARAMETERS = {"role": "client",
                   "fingerprints": [{"algorithm": "sha-256", "value": ":".join(["5A"] * 32)}]}
_ssrc = itertools.count(20_000_000, 7)


def opus_parameters(ssrc: int | None = None, cname: str = "bench-peer") -> dict[str, Any]:
    """Opus RtpSendParameters as a browser sends them, with ``ssrc`` (a fresh one if None)."""
    return {
        "mid": "0",
        "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000,
                    "channels": 2, "parameters": {"minptime": 10, "useinbandfec": 1},
                    "rtcpFeedback": [{"type": "transport-cc"}]}],
        "headerExtensions": [
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4},
            {"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 2},
            {"uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "id": 10},
        ],
        "encodings": [{"ssrc": next(_ssrc) if ssrc is None else ssrc, "dtx": False}],
        "rtcp": {"cname": cname, "reducedSize": True},
    }


class BenchError(Exception):
    """A failed step of one peer (error reply, timeout, closed socket)."""


class Peer:
    """One scripted client: its meeting socket, the producers it heard of, its first error."""

    def __init__(self, index: int, url: str, origin: str, samples: Samples) -> None:
        self.index = index
        self.samples = samples
        # As lean as the browser's socket: no compression, no keepalive pings, no event log.
        self.client = SignalingClient(url, origin=origin, name=f"bench{index}",
                                      timeout=REQUEST_TIMEOUT, compression=None,
                                      ping_interval=None, keep_events=False)
        self.client.on_event(self._on_event)
        self._foreign: asyncio.Queue[str] = asyncio.Queue()
        self.error: str | None = None

    async def run(self, done: asyncio.Event) -> None:
        """The set-up flow; then stay connected until ``done``."""
        # rtc:join goes out as soon as the socket opens, as the browser sends it.
        opening = time.perf_counter_ns()
        await self.client.connect(wait_state=False)
        start = time.perf_counter_ns()
        joined = await self.request("rtc:join", {"displayName": f"bench {self.index}"})
        self.samples.add_ns("open→joined", opening)
        for other in joined.get("peers", []):
            for producer in other.get("producers", []):
                self._foreign.put_nowait(producer["id"])
        caps = joined["routerRtpCapabilities"]
        send = await self.request("rtc:createTransport", {"direction": "send"})
        recv = await self.request("rtc:createTransport", {"direction": "recv"})
        await self.request("rtc:connectTransport", {"transportId": send["id"],
                                                    "dtlsParameters": DTLS_PARAMETERS})
        await self.request("rtc:produce", {"transportId": send["id"], "kind": "audio",
                                           "rtpParameters": opus_parameters(),
                                           "appData": {"source": "mic"}})
        self.samples.add_ns("join→produced", start)
        try:
            producer_id = await asyncio.wait_for(self._foreign.get(), REQUEST_TIMEOUT)
        except TimeoutError:
            raise BenchError("no other peer's producer announced") from None
        known = time.perf_counter_ns()
        consumed = await self.request("rtc:consume", {"transportId": recv["id"],
                                                      "producerId": producer_id,
                                                      "rtpCapabilities": caps})
        await self.request("rtc:connectTransport", {"transportId": recv["id"],
                                                    "dtlsParameters": DTLS_PARAMETERS})
        await self.request("rtc:resumeConsumer", {"consumerId": consumed["id"]})
        self.samples.add_ns("join→consumed", start)
        self.samples.add_ns("known→consuming", known)
        await done.wait()
        if self.client.closed.done():  # dropped while the others were still setting up
            raise BenchError(f"socket closed ({self.client.closed.result()}) before the end")

    async def request(self, message_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send one request; its reply's data, timed under ``message_type`` from the send to
        the parsed reply (error replies too)."""
        start = time.perf_counter_ns()
        try:
            reply: dict[str, Any] = await self.client.request(message_type, data)
        except SignalingError as error:
            self.samples.add_ns(message_type, start)
            raise BenchError(f"{message_type}: {error}") from None
        except TimeoutError:
            raise BenchError(f"{message_type}: no reply in {REQUEST_TIMEOUT:g}s") from None
        except SocketClosed as closed:
            raise BenchError(f"{message_type}: {closed}") from None
        self.samples.add_ns(message_type, start)
        return reply

    def _on_event(self, event_type: str, data: dict[str, Any]) -> None:
        if event_type == "rtc:newProducer":
            self._foreign.put_nowait(data["producerId"])

    async def close(self) -> None:
        """Close the socket and the reader."""
        await self.client.close()


async def _peer_task(peer: Peer, delay: float, done: asyncio.Event,
                     finished: asyncio.Queue[Peer]) -> None:
    await asyncio.sleep(delay)
    try:
        await peer.run(done)
    except Exception as exc:
        peer.error = peer.error or (str(exc) if isinstance(exc, BenchError) else repr(exc))
        finished.put_nowait(peer)
        return


async def _warm_up(server: DaphneServer, tokens: list[str], meeting: str) -> None:
    """Two peers run the flow and leave: the worker pool starts and code paths warm up."""
    samples = Samples()
    done = asyncio.Event()
    pair = [Peer(i, f"{server.url}/ws/meetings/{meeting}/?token={tokens[i]}", server.origin,
                 samples) for i in range(2)]
    tasks = [asyncio.create_task(p.run(done)) for p in pair]
    deadline = time.monotonic() + 2 * REQUEST_TIMEOUT
    while len(samples.by_op.get("join→consumed", [])) < 2 and time.monotonic() < deadline:
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    done.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(p.close() for p in pair), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise RuntimeError(f"warm-up failed: {failures[0]!r}\n{server.log()}")
    await asyncio.sleep(0.5)  # the server removes the peers and closes their room


async def _settled(server: DaphneServer, *, idle_share: float = 0.02,
                   timeout: float = 10.0) -> None:
    """Return once the server's CPU grew by less than ``idle_share`` of a core over 0.1 s (the
    events still queued when the last peer was set up are delivered), or after ``timeout``."""
    deadline = time.monotonic() + timeout
    before = server.sample()[0].cpu
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = server.sample()[0].cpu
        if now - before < 0.1 * idle_share:
            return
        before = now


def profile_window(server: Any, *, start: bool) -> None:
    """Narrow a profiled server's stats to the measured row (`LiveDaphne.profile_window`);
    nothing for a server without one (Node's)."""
    window = getattr(server, "profile_window", None)
    if window is not None:
        window(start=start)


async def run_row(server: DaphneServer, *, peers: int, tokens: list[str], meetings: list[str],
                  warm_up_meeting: str, ramp: float, settle: bool = False) -> dict[str, Any]:
    """N peers on a fresh server; latencies, errors and the server's cost per peer (with
    ``settle``, its CPU up to when it is idle again rather than to the last peer's set-up)."""
    server.start()
    try:
        await _warm_up(server, tokens, warm_up_meeting)
        idle_daphne, idle_main, idle_workers = server.sample()
        profile_window(server, start=True)
        samples = Samples()
        done = asyncio.Event()
        failed: asyncio.Queue[Peer] = asyncio.Queue()
        # Meetings fill one after the other, as people of one meeting arrive together; their
        # sizes differ by one at most, so none is left with a single peer.
        group = [Peer(i, f"{server.url}/ws/meetings/{meetings[i * len(meetings) // peers]}/"
                         f"?token={tokens[i]}", server.origin, samples) for i in range(peers)]
        start = time.monotonic()
        client_cpu = time.process_time()
        tasks = [asyncio.create_task(_peer_task(p, ramp * i / peers, done, failed))
                 for i, p in enumerate(group)]
        # Wait until every peer is consumed or failed (bounded by the request timeouts).
        deadline = start + ramp + 10 * REQUEST_TIMEOUT
        while time.monotonic() < deadline:
            finished = len(samples.by_op.get("join→consumed", [])) + failed.qsize()
            if finished >= peers:
                break
            await asyncio.sleep(0.05)
        wall = time.monotonic() - start
        client_cpu = time.process_time() - client_cpu
        profile_window(server, start=False)
        if settle:
            await _settled(server)
        busy_daphne, busy_main, busy_workers = server.sample()
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        errors = [p.error for p in group if p.error]
        unfinished = peers - len(samples.by_op.get("join→consumed", [])) - len(errors)
        await _settled(server)
        closing, before_close = time.monotonic(), server.sample()[0].cpu
        await asyncio.gather(*(p.close() for p in group), return_exceptions=True)
        await _settled(server, timeout=30.0)
        teardown_s = time.monotonic() - closing
        teardown_cpu = server.sample()[0].cpu - before_close
    finally:
        server.stop()
    summary = samples.summary()
    workers_cpu = sum(w.cpu for w in busy_workers) - sum(w.cpu for w in idle_workers)
    workers_rss = sum(w.rss for w in busy_workers) - sum(w.rss for w in idle_workers)
    return {
        "peers": peers,
        "meetings": len(meetings),
        "ramp_s": round(ramp, 2),
        "wall_s": round(wall, 2),
        "latency": {op: summary[op] for op in [*REQUEST_TYPES, *FLOW_TIMES] if op in summary},
        "errors": len(errors) + max(0, unfinished),
        "error_examples": sorted(set(errors))[:5],
        "daphne_cpu_ms_per_peer": round(1000 * (busy_daphne.cpu - idle_daphne.cpu) / peers, 2),
        "daphne_loop_cpu_ms_per_peer": round(1000 * (busy_main - idle_main) / peers, 2),
        "daphne_loop_cpu_pct": round(100 * (busy_main - idle_main) / wall, 1),
        "daphne_threads_cpu_pct": round(
            100 * ((busy_daphne.cpu - busy_main) - (idle_daphne.cpu - idle_main)) / wall, 1),
        "daphne_rss_kib_per_peer": round((busy_daphne.rss - idle_daphne.rss) / 1024 / peers, 1),
        "daphne_rss_mib": round(busy_daphne.rss / 2**20, 1),
        "workers_cpu_ms_per_peer": round(1000 * workers_cpu / peers, 2),
        "workers_rss_kib_per_peer": round(workers_rss / 1024 / peers, 1),
        "workers": len(busy_workers),
        "client_cpu_ms_per_peer": round(1000 * client_cpu / peers, 2),
        "teardown_s": round(teardown_s, 2),
        "teardown_cpu_ms_per_peer": round(1000 * teardown_cpu / peers, 2),
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Seed once, then one fresh server per row (and, with ``--node``, a fresh Node server
    for the same row right after it)."""
    server = DaphneServer(profile=args.profile_server, trace=args.trace_server,
                          redis_url=args.redis, database=args.database)
    try:
        # N // per_meeting meetings: each gets per_meeting to 2 × per_meeting - 1 peers.
        plan = [(n, max(1, n // args.per_meeting)) for n in args.sizes]
        seeded = await asyncio.to_thread(
            server.prepare, users=max(args.sizes), meetings=sum(m + 1 for _, m in plan),
            capacity=min(500, 2 * args.per_meeting))
        tokens, users = seeded["tokens"], seeded["users"]
        rows = []
        offset = 0
        for n, m in plan:
            meetings = seeded["meetings"][offset:offset + m + 1]
            offset += m + 1
            warm_up, used = meetings[0], meetings[1:]
            # Each peer's user is invited to its own meeting only (the two warm-up peers to
            # the warm-up meeting too).
            seats = [(warm_up, 0), (warm_up, 1)] + [(used[i * m // n], i) for i in range(n)]
            await asyncio.to_thread(server.invite, [(mid, users[i]) for mid, i in seats])
            ramp = args.ramp if args.ramp is not None else n / args.rate
            settle = bool(getattr(args, "settle", False))
            row = await run_row(server, peers=n, tokens=tokens, meetings=used,
                                warm_up_meeting=warm_up, ramp=ramp, settle=settle)
            row["server"] = "python"
            rows.append(row)
            if args.node:
                allowed: dict[str, list[str]] = {}
                for mid, i in seats:
                    allowed.setdefault(tokens[i], []).append(mid)
                node = NodeSignalingServer(allowed)
                try:
                    reference = await run_row(node, peers=n, tokens=tokens, meetings=used,
                                              warm_up_meeting=warm_up, ramp=ramp,
                                              settle=settle)
                finally:
                    node.cleanup()
                reference["server"] = "node"
                rows.append(reference)
        return rows
    finally:
        server.cleanup()


def _ratios(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """For each Python row followed by its Node row: Python / Node of the whole set-up time
    and of the join's and the other requests' percentiles."""
    table = []
    for py, node in zip(rows, rows[1:], strict=False):
        if py.get("server") != "python" or node.get("server") != "node":
            continue

        def ratio(op: str, key: str, a: dict[str, Any] = py, b: dict[str, Any] = node) -> str:
            x, y = a["latency"].get(op, {}).get(key), b["latency"].get(op, {}).get(key)
            return f"{x / y:.2f}x" if x and y else "-"

        table.append([py["peers"], py["ramp_s"], py["wall_s"], node["wall_s"],
                      f"{py['wall_s'] / node['wall_s']:.2f}x" if node["wall_s"] else "-",
                      ratio("rtc:join", "p50_ms"), ratio("rtc:join", "p99_ms"),
                      ratio("open→joined", "p50_ms"), ratio("open→joined", "p99_ms"),
                      ratio("join→consumed", "p50_ms"), ratio("join→consumed", "p99_ms"),
                      py["errors"], node["errors"]])
    return table


def _trace_tables(path: str | None) -> dict[str, Any] | None:
    """The join trace's tables (`bots.join_trace.step_table`), if one was asked for."""
    if not path:
        return None
    steps, batches = step_table(json.loads(Path(path).read_text()))
    return {"steps": steps, "batches": batches}


def _pair(row: dict[str, Any], op: str) -> str:
    """``p50/p99`` of ``op`` in milliseconds, with 3 significant figures or so."""
    stats = row["latency"].get(op)
    if not stats or not stats.get("n"):
        return "-"

    def fmt(v: float) -> str:
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"

    return f"{fmt(stats['p50_ms'])}/{fmt(stats['p99_ms'])}"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 1 if any peer failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100,200,500",
                        help="comma-separated peer counts, a row each")
    parser.add_argument("--per-meeting", type=int, default=10, help="peers per meeting (>= 2)")
    parser.add_argument("--rate", type=float, default=40.0,
                        help="peers connecting per second (uniform arrivals)")
    parser.add_argument("--ramp", type=float, default=None,
                        help="seconds over which each row's peers connect, whatever their "
                             "number (overrides --rate; 0: all at once)")
    parser.add_argument("--burst", action="store_true",
                        help="every row's peers connect at once (the same as --ramp 0)")
    parser.add_argument("--node", action="store_true",
                        help="after each row, the same peers against mediasoup's Node layer "
                             "behind a minimal server (bench/node/signaling_server.mjs) on the "
                             "same worker binary, and the ratios")
    parser.add_argument("--quick", action="store_true", help="one row of 4 peers (smoke)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--redis", metavar="URL",
                        help="channel layer: channels-redis at URL (default: in-memory)")
    parser.add_argument("--database", choices=("sqlite", "inherit"), default="sqlite",
                        help="sqlite: a file of its own (default); inherit: a fresh database "
                             "on the PostgreSQL server of this shell's DATABASE_URL")
    parser.add_argument("--profile-server", metavar="PATH",
                        help="run daphne under cProfile: stats of the last row's measured peers "
                             "(its event loop, from after the warm-up to the last set-up) in PATH")
    parser.add_argument("--trace-server", metavar="PATH",
                        help="trace each socket's join path in daphne (bots.join_trace): "
                             "the last row's steps and batches, written to PATH and printed")
    args = parser.parse_args(argv)
    if SignalingClient is None:
        parser.error("the websockets package is needed: .venv/bin/pip install websockets==17.4")
    if args.burst:
        args.ramp = 0.0
    if args.node and (why := node_reference_ready()):
        parser.error(f"--node: {why}")
    if args.quick:
        args.sizes, args.per_meeting, args.ramp = "4", 2, 0.5
    args.sizes = [int(n) for n in str(args.sizes).split(",") if n]
    if args.per_meeting < 2 or min(args.sizes) < 2:
        parser.error("every meeting needs at least 2 peers")
    if args.profile_server and args.trace_server:
        parser.error("--profile-server and --trace-server: one at a time")
    rows = asyncio.run(run(args))
    errors = sum(r["errors"] for r in rows)
    trace = _trace_tables(args.trace_server)
    if args.json:
        print_json({"rows": rows, "per_meeting": args.per_meeting, "ramp_s": args.ramp,
                    "rate": args.rate, "errors": errors, **({"trace": trace} if trace else {})})
        return 1 if errors else 0
    layer = "channels-redis" if args.redis else "in-memory channel layer"
    arrivals = (f"{args.rate:g} peers/s" if args.ramp is None
                else "all at once (a burst)" if args.ramp == 0
                else f"each row's peers over {args.ramp:g} s")
    database = "PostgreSQL" if args.database == "inherit" else "SQLite"
    print(f"signaling: live daphne ({database}, {layer}), one user per peer, {args.per_meeting} "
          f"peers per invited-only meeting, arrivals "
          f"{arrivals}; load average {load_average()}")
    ops = [("join", "rtc:join"), ("createT", "rtc:createTransport"),
           ("connectT", "rtc:connectTransport"), ("produce", "rtc:produce"),
           ("consume", "rtc:consume"), ("resume", "rtc:resumeConsumer")]
    print("latency ms, p50/p99 (client side: sent → reply)")
    print(format_table(
        ["server", "peers", "meetings", *[name for name, _ in ops], *FLOW_TIMES, "errors"],
        [[r["server"], r["peers"], r["meetings"],
          *[_pair(r, op) for _, op in ops], *[_pair(r, op) for op in FLOW_TIMES],
          r["errors"]] for r in rows]))
    print()
    print("server cost per peer (idle server → all peers connected)")
    print(format_table(
        ["server", "peers", "ramp s", "wall s", "server CPU ms", "(loop ms)", "loop %",
         "threads %", "server RSS KiB", "server RSS MiB", "workers", "workers CPU ms",
         "workers RSS KiB", "client CPU ms", "teardown s", "teardown CPU ms"],
        [[r["server"], r["peers"], r["ramp_s"], r["wall_s"], r["daphne_cpu_ms_per_peer"],
          r["daphne_loop_cpu_ms_per_peer"], r["daphne_loop_cpu_pct"],
          r["daphne_threads_cpu_pct"], r["daphne_rss_kib_per_peer"], r["daphne_rss_mib"],
          r["workers"], r["workers_cpu_ms_per_peer"], r["workers_rss_kib_per_peer"],
          r["client_cpu_ms_per_peer"], r["teardown_s"], r["teardown_cpu_ms_per_peer"]]
         for r in rows]))
    if args.node:
        print()
        print("python / node (whole set-up wall time, rtc:join, open→joined and join→consumed "
              "percentiles)")
        print(format_table(
            ["peers", "ramp s", "py wall s", "node wall s", "wall", "join p50", "join p99",
             "opened p50", "opened p99",
             "consumed p50", "consumed p99", "py errors", "node errors"], _ratios(rows)))
    if trace:
        print()
        print("the last row's join path on the server (bots.join_trace), ms: p50 / p90 / max")
        print(format_table(["step", "sockets", "ms"], trace["steps"]))
        print(format_table(["batch", "start ms", "end ms", "size", "thread CPU ms"],
                           trace["batches"]))
    for r in rows:
        for example in r["error_examples"]:
            print(f"error ({r['peers']} peers): {example}")
    print(f"errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
