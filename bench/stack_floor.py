"""The floor of the stack: bench/signaling.py's socket traffic through daphne + Channels with
nothing of the project behind it, against the same through Node's ``ws``.

Issue #13 wants 200 peers joining at once set up within 1.5x of mediasoup's Node layer behind a
minimal server. In that burst the project's daphne is one process whose event loop and
Channels' database thread share one GIL, so its wall time is its CPU: 1.5x Node needs about
4 ms of server CPU a peer. This measures how much of that the web stack takes before any of the
project's code runs: a canned server (``bench/stack_floor_app.py``, no database, no mediasoup,
no authentication, ``?token=`` ignored) that answers each request with a canned reply of the
project's size and sends the same events, driven by bench/signaling.py's own peers
(``bench.signaling.run_row``: ``bots.signaling.SignalingClient``, the same burst, the same
/proc sampling of the server's CPU).

What one peer puts on the wire (``--wire``: the client's frames counted and sized in a
200-peer burst of bench/signaling.py against the project's daphne, 10 peers a meeting, SQLite,
measured 2026-12-04; the floor's own traffic is counted the same way with ``--wire floor``)::

    frames the server receives: 8, 7.2 KB: rtc:join 85 B, rtc:createTransport x2 91 B,
      rtc:connectTransport x2 316 B, rtc:produce 713 B, rtc:consume 5375 B,
      rtc:resumeConsumer 123 B
    frames the server sends: 38, 17.3 KB (39 until session 10: the joiner's own
    meeting.participantJoined):
      meeting.state x1 (510-2115 B, mean 1304: the meeting's sockets so far)
      replies x8: rtc:join 6056 B (5479-7504), rtc:createTransport x2 1438 B,
        rtc:connectTransport x2 73 B, rtc:produce 109 B, rtc:consume 1184 B,
        rtc:resumeConsumer 124 B
      group events: rtc:peerJoined x9 (131 B) and rtc:newProducer x9 (205 B) (one from each
        other peer of the meeting), meeting.participantJoined x9 (222 B, one per other
        peer's join), meeting.updated x1 (306 B), rtc:activeSpeaker x0.85 (89 B)

The canned servers send the same: ``meeting.state`` on connect; on rtc:join a group
rtc:peerJoined and meeting.participantJoined (neither to the joiner), and the
meeting's first join a meeting.updated to everyone; on rtc:produce a group rtc:newProducer (not
to the producer), and the meeting's first produce an rtc:activeSpeaker to everyone (1 a peer
where the project sent 0.85). Servers measured, each fresh for each row:

* ``python floor``: daphne (started as bench/_server.py starts the project's: ``daphne -b
  127.0.0.1 -p PORT APP``, default options) + Channels' ``AsyncJsonWebsocketConsumer`` behind
  ``URLRouter``, group events by ``group_send`` on the project's in-memory channel layer, with
  the project's changes to the stack as production runs them: the five patches of
  ``conference.asgi`` (autobahn's logging, Channels' dispatch loop, Twisted's write, daphne's
  send, unmasking)
  and the consumer's dispatch without a database-thread hop per message;
* ``python floor, Channels' dispatch``: the same with Channels' own dispatch, which runs
  ``close_old_connections`` on the database thread before every message's handler (the project's
  consumer overrides it: ``rtc.websocket.consumer``);
* ``python floor stock``: Channels and daphne as shipped (neither the patches nor the dispatch);
* ``python raw ASGI``: daphne with a plain ASGI coroutine per socket, no Channels, events
  handed straight to the other sockets' ASGI ``send``: daphne/Twisted/autobahn alone;
* ``node floor``: the same canned server on Node's ``ws`` (``bench/node/stack_floor_server.mjs``);
* with ``--real``: the project's daphne and mediasoup's Node layer behind its minimal server
  (``bench/signaling.py --burst --node`` on SQLite and the in-memory layer) in the same run.

Then the handshake alone: N sockets open at once (the same client) and then close, nothing
else: the server's CPU a socket to open and to close, so the frames' share is the row's CPU
less the opening's. Usage::

    flock /tmp/conference-bench.lock .venv/bin/python -m bench.stack_floor
        [--peers 200] [--per-meeting 10] [--runs 3] [--real] [--quick] [--json]
        [--wire real|floor|raw|node]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import contextvars
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    format_table,
    load_average,
    print_json,
)
from bench._node_server import SCRIPT as _NODE_SCRIPT  # noqa: E402
from bench._node_server import node_reference_ready  # noqa: E402
from bench._server_process import ServerProcess  # noqa: E402
from bots.live_daphne import LIBRARY_SRC, ROOT, free_port  # noqa: E402

__all__ = ["FloorDaphne", "FloorNode", "handshake_row", "main", "wire_counts"]

NODE_SCRIPT = _NODE_SCRIPT.with_name("stack_floor_server.mjs")
APPS = {"python floor": ("bench.stack_floor_app:application", "0"),
        "python floor, Channels' dispatch": ("bench.stack_floor_app:application", "dispatch"),
        "python floor stock": ("bench.stack_floor_app:application", "1"),
        "python raw ASGI": ("bench.stack_floor_app:raw_application", "0")}


class _Process(ServerProcess):
    """A server subprocess on a fresh loopback port per ``start``, sampled from /proc."""

    name = "server"

    def __init__(self) -> None:
        super().__init__("conference-bench-floor-")

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, *, timeout: float = 30) -> _Process:
        """Start the server and wait until its port accepts a TCP connection."""
        self.port = free_port()
        self.launch(self.command(), env=self.env(), ready=self._accepts, timeout=timeout)
        return self

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False


class FloorDaphne(_Process):
    """daphne serving ``app`` (``bench.stack_floor_app``), started as the project's is."""

    def __init__(self, app: str, *, stock: str = "0") -> None:
        super().__init__()
        self.app = app
        self.stock = stock
        self.name = f"daphne {app}"

    def command(self) -> list[str]:
        # bots.live_daphne.LiveDaphne.start's command line, as bench/_server.py runs it.
        return [str(Path(sys.executable).with_name("daphne")), "-b", "127.0.0.1",
                "-p", str(self.port), self.app]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
        env.update(DJANGO_SETTINGS_MODULE="bench.stack_floor_settings",
                   PYTHONPATH=os.pathsep.join([str(ROOT), str(LIBRARY_SRC)]),
                   PYTHONUNBUFFERED="1", STACK_FLOOR_STOCK=self.stock)
        return env


class FloorNode(_Process):
    """The canned server on Node's ``ws`` (``bench/node/stack_floor_server.mjs``)."""

    name = "node floor"

    def command(self) -> list[str]:
        from bench.stack_floor_app import (
            _RID,
            CAPABILITIES_SIZE,
            EVENT_SIZES,
            REPLY_SIZES,
            STATE_SIZE,
        )

        sizes = self.workdir / "sizes.json"
        sizes.write_text(json.dumps({"state": STATE_SIZE, "replies": REPLY_SIZES,
                                     "events": EVENT_SIZES, "rid": _RID,
                                     "capabilities": CAPABILITIES_SIZE}))
        return ["node", str(NODE_SCRIPT), "--port", str(self.port), "--sizes", str(sizes)]


def _client(url: str, origin: str) -> Any:
    from bots.signaling import SignalingClient

    # bench.signaling.Peer's socket: uncompressed, no pings, no event log.
    return SignalingClient(url, origin=origin, name="floor", timeout=30, compression=None,
                           ping_interval=None, keep_events=False)


async def handshake_row(server: _Process, *, peers: int) -> dict[str, Any]:
    """``peers`` sockets open at once, then close: the server's CPU a socket for each."""
    server.start()
    try:
        url = f"{server.url}/ws/handshake/?token=ignored"
        warm = [_client(url, server.origin) for _ in range(2)]
        for c in warm:
            await c.connect(wait_state=False)
        await asyncio.gather(*(c.close() for c in warm))
        await asyncio.sleep(0.3)
        idle, idle_main, _ = server.sample()
        clients = [_client(url, server.origin) for _ in range(peers)]
        start = time.monotonic()
        results = await asyncio.gather(*(c.connect(wait_state=False) for c in clients),
                                       return_exceptions=True)
        opened_wall = time.monotonic() - start
        opened, opened_main, _ = server.sample()
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        await asyncio.sleep(0.2)  # the server's side of the closes
        closed, _, _ = server.sample()
    finally:
        server.stop()
    return {"peers": peers, "errors": sum(isinstance(r, BaseException) for r in results),
            "open_wall_s": round(opened_wall, 3),
            "open_cpu_ms_per_peer": round(1000 * (opened.cpu - idle.cpu) / peers, 2),
            "open_loop_cpu_ms_per_peer": round(1000 * (opened_main - idle_main) / peers, 2),
            "close_cpu_ms_per_peer": round(1000 * (closed.cpu - opened.cpu) / peers, 2)}


async def floor_row(server: _Process, *, peers: int, per_meeting: int) -> dict[str, Any]:
    """bench/signaling.py's burst of ``peers`` against a canned server."""
    from bench.signaling import run_row

    meetings = [f"floor-{i}" for i in range(max(1, peers // per_meeting))]
    return await run_row(server, peers=peers, tokens=["ignored"] * max(peers, 2),
                         meetings=meetings, warm_up_meeting="floor-warm-up", ramp=0.0,
                         settle=True)


async def real_rows(*, peers: int, per_meeting: int) -> list[dict[str, Any]]:
    """The project's daphne and the Node reference: ``bench.signaling --burst --node``."""
    from bench.signaling import run

    args = argparse.Namespace(sizes=[peers], per_meeting=per_meeting, ramp=0.0, rate=40.0,
                              node=True, redis=None, database="sqlite", profile_server=None,
                              settle=True)
    rows = await run(args)
    for row in rows:
        row["server"] = {"python": "python (project)", "node": "node (mediasoup)"}[row["server"]]
    return rows


SERVERS = [*APPS, "node floor"]


def _server(name: str) -> _Process:
    """A new canned server of that name (its own working directory)."""
    if name == "node floor":
        return FloorNode()
    app, stock = APPS[name]
    return FloorDaphne(app, stock=stock)


def _servers() -> dict[str, _Process]:
    return {name: _server(name) for name in SERVERS}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """``args.runs`` rounds of every server's burst and handshake rows (and the real ones)."""
    servers = _servers()
    bursts: list[dict[str, Any]] = []
    handshakes: list[dict[str, Any]] = []
    try:
        for round_ in range(1, args.runs + 1):
            for name, server in servers.items():
                row = await floor_row(server, peers=args.peers, per_meeting=args.per_meeting)
                bursts.append({"server": name, "run": round_, **row})
            if args.real:
                for row in await real_rows(peers=args.peers, per_meeting=args.per_meeting):
                    bursts.append({**row, "run": round_})
            for name, server in servers.items():
                if name in ("python floor, Channels' dispatch", "python floor stock"):
                    continue
                row = await handshake_row(server, peers=args.peers)
                handshakes.append({"server": name, "run": round_, **row})
    finally:
        for server in servers.values():
            server.cleanup()
    return {"bursts": bursts, "handshakes": handshakes}


# --- what one peer puts on the wire ----------------------------------------------------------

_who: contextvars.ContextVar[str | None] = contextvars.ContextVar("floor_peer", default=None)


@contextlib.contextmanager
def _counting(log: dict[str, list[tuple[str, str, int]]]) -> Iterator[None]:
    """Record every frame each bench.signaling peer's client sends and receives (direction,
    type or ``reply``, bytes): a stand-in for ``json`` in ``bots.signaling``."""
    import bench.signaling as signaling
    import bots.signaling as client

    class Counting:
        @staticmethod
        def loads(raw: str | bytes) -> Any:
            message = json.loads(raw)
            peer = _who.get()
            if peer is not None:
                size = len(raw.encode() if isinstance(raw, str) else raw)
                log[peer].append(("in", message.get("type") or "reply", size))
            return message

        @staticmethod
        def dumps(obj: Any, **kwargs: Any) -> str:
            text = json.dumps(obj, **kwargs)
            peer = _who.get()
            if peer is not None:
                log[peer].append(("out", obj.get("type", ""), len(text.encode())))
            return text

    original_run = signaling.Peer.run

    async def peer_run(self: Any, done: asyncio.Event) -> None:
        _who.set(self.client.name)
        await original_run(self, done)

    client.json = Counting  # type: ignore[assignment]
    signaling.Peer.run = peer_run  # type: ignore[method-assign]
    try:
        yield
    finally:
        client.json = json
        signaling.Peer.run = original_run  # type: ignore[method-assign]


def wire_counts(log: dict[str, list[tuple[str, str, int]]]) -> dict[str, Any]:
    """Frames a peer sends and receives by type (count a peer, mean bytes), replies by the
    request they answer; the two warm-up peers (names bench0, bench1 again) left out."""
    peers = {name: frames for name, frames in log.items() if name not in ("bench0", "bench1")}
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    sizes: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for frames in peers.values():
        sent = [kind for way, kind, _ in frames if way == "out"]
        replies = iter(sent)
        for way, kind, size in frames:
            key = (way, f"reply {next(replies, '?')}" if kind == "reply" else kind)
            counts[key] += 1
            sizes[key].append(size)
    n = max(1, len(peers))
    by_type = [{"dir": "server receives" if way == "out" else "server sends", "frame": kind,
                "per_peer": round(counts[(way, kind)] / n, 2),
                "bytes_mean": round(sum(sizes[(way, kind)]) / len(sizes[(way, kind)])),
                "bytes_min": min(sizes[(way, kind)]), "bytes_max": max(sizes[(way, kind)])}
               for way, kind in sorted(counts)]
    total = {way: (sum(c for (w, _), c in counts.items() if w == way) / n,
                   sum(sum(s) for (w, _), s in sizes.items() if w == way) / n)
             for way in ("in", "out")}
    return {"peers": len(peers), "frames": by_type,
            "server_sends_per_peer": [round(total["in"][0], 2), round(total["in"][1])],
            "server_receives_per_peer": [round(total["out"][0], 2), round(total["out"][1])]}


async def wire(args: argparse.Namespace) -> dict[str, Any]:
    """One burst against ``args.wire``'s server with every peer's frames counted."""
    log: dict[str, list[tuple[str, str, int]]] = collections.defaultdict(list)
    with _counting(log):
        if args.wire == "real":
            from bench.signaling import run as signaling_run

            ns = argparse.Namespace(sizes=[args.peers], per_meeting=args.per_meeting, ramp=0.0,
                                    rate=40.0, node=False, redis=None, database="sqlite",
                                    profile_server=None)
            row = (await signaling_run(ns))[0]
        else:
            name = {"floor": "python floor", "raw": "python raw ASGI",
                    "node": "node floor"}[args.wire]
            server = _server(name)
            try:
                row = await floor_row(server, peers=args.peers, per_meeting=args.per_meeting)
            finally:
                server.cleanup()
    return {"server": args.wire, "errors": row["errors"], **wire_counts(log)}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 1 if any peer or socket failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", type=int, default=200, help="peers in the burst")
    parser.add_argument("--per-meeting", type=int, default=10, help="peers per meeting (>= 2)")
    parser.add_argument("--runs", type=int, default=3, help="rounds of every row")
    parser.add_argument("--real", action="store_true",
                        help="each round, also the project's daphne and mediasoup's Node layer "
                             "(bench/signaling.py --burst --node)")
    parser.add_argument("--wire", choices=("real", "floor", "raw", "node"),
                        help="count one burst's frames per peer against that server instead")
    parser.add_argument("--quick", action="store_true", help="10 peers, one round (smoke)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.peers, args.per_meeting, args.runs = 10, 5, 1
    if args.per_meeting < 2 or args.peers < 2:
        parser.error("every meeting needs at least 2 peers")
    if shutil.which("node") is None or (args.real and node_reference_ready()):
        parser.error(f"node: {node_reference_ready() or 'not installed'}")
    if args.wire:
        counted = asyncio.run(wire(args))
        if args.json:
            print_json(counted)
        else:
            print(f"one peer's frames, {args.peers} peers at once, {args.per_meeting} a meeting, "
                  f"against {args.wire}; load average {load_average()}")
            print(format_table(["direction", "frame", "a peer", "bytes mean", "min", "max"],
                               [[f["dir"], f["frame"], f["per_peer"], f["bytes_mean"],
                                 f["bytes_min"], f["bytes_max"]] for f in counted["frames"]]))
            print(f"server sends {counted['server_sends_per_peer'][0]} frames "
                  f"({counted['server_sends_per_peer'][1]} B), receives "
                  f"{counted['server_receives_per_peer'][0]} frames "
                  f"({counted['server_receives_per_peer'][1]} B) a peer")
            print(f"errors: {counted['errors']}")
        return 1 if counted["errors"] else 0
    load_before = load_average()
    result = asyncio.run(run(args))
    result.update(peers=args.peers, per_meeting=args.per_meeting, runs=args.runs,
                  load_before=load_before, load_after=load_average())
    bursts, handshakes = result["bursts"], result["handshakes"]
    errors = sum(r["errors"] for r in bursts) + sum(r["errors"] for r in handshakes)
    result["errors"] = errors
    node = _median([r["daphne_cpu_ms_per_peer"] for r in bursts if r["server"] == "node floor"])
    if args.json:
        print_json(result)
        return 1 if errors else 0
    print(f"stack floor: {args.peers} peers at once, {args.per_meeting} a meeting, "
          f"{args.runs} round(s); load average {load_before} before, {load_average()} after")
    print(format_table(
        ["server", "run", "peers", "wall s", "server CPU ms", "(loop ms)", "x node floor",
         "join p99 ms", "client CPU ms", "errors"],
        [[r["server"], r["run"], r["peers"], r["wall_s"], r["daphne_cpu_ms_per_peer"],
          r["daphne_loop_cpu_ms_per_peer"],
          f"{r['daphne_cpu_ms_per_peer'] / node:.2f}x" if node else "-",
          r["latency"].get("rtc:join", {}).get("p99_ms", "-"), r["client_cpu_ms_per_peer"],
          r["errors"]] for r in bursts]))
    print()
    print("handshake alone (the same sockets open at once, then close) and the frames' share")
    medians = {name: _median([r["daphne_cpu_ms_per_peer"] for r in bursts
                              if r["server"] == name]) for name in SERVERS}
    print(format_table(
        ["server", "run", "open wall s", "open CPU ms", "close CPU ms", "frames CPU ms",
         "errors"],
        [[r["server"], r["run"], r["open_wall_s"], r["open_cpu_ms_per_peer"],
          r["close_cpu_ms_per_peer"],
          round(medians[r["server"]] - r["open_cpu_ms_per_peer"], 2), r["errors"]]
         for r in handshakes]))
    print("(server CPU ms a peer from /proc, idle server → every peer set up; frames CPU = the "
          "burst's median less the opening)")
    print(f"errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
