"""Chat and whiteboard under load: N peers in one meeting chatting and drawing at a human rate.

A fresh live daphne (``bench/_server.py``: the project's settings, its own SQLite file, the
in-memory channel layer or Redis, the default worker pool) serves one meeting. N peers
(``bots.collab.CollabBot`` on ``bots.signaling.SignalingClient``) connect over ``--ramp``
seconds, join the call (``rtc:join``), then for ``--seconds`` each sends a chat message every
``--chat-every`` seconds and draws a pen stroke of ``--points`` points every ``--draw-every``
seconds on average (exponential pauses: a Poisson process per peer). Usage::

    .venv/bin/python -m bench.collab [--quick] [--peers 100] [--seconds 60]
                                     [--chat-every 30] [--draw-every 10] [--points 40]
                                     [--redis URL] [--database sqlite|inherit]
                                     [--starve FRACTION] [--drain 30]
                                     [--profile-server PATH] [--json]

Measured: delivery latency of ``chat:message`` (sent by one bot → received by each socket,
the sender's included) and of ``whiteboard:op`` (→ each other socket), p50/p99 over every
delivery, from one process's clock; deliveries missing after the drain (``--drain``, 30 s: must
be 0) and how many came after the peers stopped; ``events:missed`` notices (sockets told that
events for them were dropped); error replies (must be 0); and the server's CPU over the active
period: daphne (all threads, and its event loop alone) and the mediasoup workers, in percent
of one core. The bots run in this
process on the same machine; their CPU is shown too (``bots %``), with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Samples, format_table, load_average, print_json  # noqa: E402
from bench._server import DaphneServer  # noqa: E402
from bots.collab import CollabBot, Habits  # noqa: E402
from bots.signaling import SignalingClient  # noqa: E402

__all__ = ["main", "run"]

TIMEOUT = 30.0


class Tracker:
    """Send times of marked messages and strokes, and their deliveries."""

    def __init__(self) -> None:
        self.samples = Samples()
        self.sent_at: dict[str, int] = {}
        self.chat_sent = 0
        self.strokes_sent = 0
        self.delivered = {"chat": 0, "board": 0}
        self.late = 0
        """Deliveries after the peers stopped (set ``ended`` then)."""
        self.ended: int | None = None
        self.missed_notices = 0
        """``events:missed``: sockets told that events for them were dropped."""
        self._ids = itertools.count(1)

    def chat_text(self, sender: int) -> str:
        key = f"c{sender}x{next(self._ids)}"
        self.sent_at[key] = time.perf_counter_ns()
        self.chat_sent += 1
        return f"{key} hello from bot {sender}: https://example.com/{key}"

    def stroke_id(self, sender: int) -> str:
        key = f"w{sender}x{next(self._ids)}"
        self.sent_at[key] = time.perf_counter_ns()
        self.strokes_sent += 1
        return key

    def listener(self, event_type: str, data: dict[str, Any]) -> None:
        now = time.perf_counter_ns()
        if event_type == "events:missed":
            self.missed_notices += 1
            return
        if event_type == "chat:message":
            key = str(data.get("text", "")).split(" ", 1)[0]
            kind = "chat"
        elif event_type == "whiteboard:op" and data.get("op") == "add":
            key = str(data.get("element", {}).get("id", ""))
            kind = "board"
        else:
            return
        sent = self.sent_at.get(key)
        if sent is not None:
            self.delivered[kind] += 1
            if self.ended is not None:
                self.late += 1
            self.samples.add(f"{kind} delivery", (now - sent) / 1e6)


async def _connect(index: int, url: str, origin: str, tracker: Tracker,
                   delay: float) -> CollabBot:
    await asyncio.sleep(delay)
    client = SignalingClient(url, origin=origin, name=f"collab{index}", timeout=TIMEOUT,
                             compression=None, ping_interval=None, keep_events=False)
    client.on_event(tracker.listener)
    await client.connect()
    await client.request("rtc:join", {"displayName": f"Bot {index}"})
    return CollabBot(client, seed=index)


async def _starve(pid: int, fraction: float, stopped: list[float]) -> None:
    """Hold daphne stopped (SIGSTOP) for ``fraction`` of every 100 ms until cancelled: CPU
    starvation on demand, of daphne alone (a loaded machine would slow every process here).
    The seconds it was held stopped are added to ``stopped``."""
    period = 0.1
    try:
        while True:
            os.kill(pid, signal.SIGSTOP)
            held = time.monotonic()
            try:
                await asyncio.sleep(period * fraction)
            finally:
                os.kill(pid, signal.SIGCONT)
                stopped[0] += time.monotonic() - held
            await asyncio.sleep(period * (1 - fraction))
    except ProcessLookupError:
        return


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """One row: seed, start, connect, behave, drain, measure."""
    server = DaphneServer(redis_url=args.redis, database=args.database,
                          profile=args.profile_server)
    try:
        seeded = await asyncio.to_thread(server.prepare, users=args.peers, meetings=1,
                                         capacity=min(500, args.peers + 5))
        meeting = seeded["meetings"][0]
        await asyncio.to_thread(server.invite, [(meeting, user) for user in seeded["users"]])
        server.start()
        tracker = Tracker()
        try:
            bots = await asyncio.gather(*(
                _connect(i, f"{server.url}/ws/meetings/{meeting}/?token={seeded['tokens'][i]}",
                         server.origin, tracker, args.ramp * i / args.peers)
                for i in range(args.peers)))
            await asyncio.sleep(1.0)  # joins announced, the server idle again
            idle_daphne, idle_main, idle_workers = server.sample()
            habits = Habits(chat_every=args.chat_every, draw_every=args.draw_every,
                            stroke_points=args.points)
            started = time.monotonic()
            client_cpu = time.process_time()
            stopped = [0.0]
            starver = (asyncio.get_running_loop().create_task(
                _starve(server.process.pid, args.starve, stopped))
                if args.starve > 0 and server.process is not None else None)
            try:
                results = await asyncio.gather(*(
                    bot.behave(args.seconds, habits,
                               text=lambda i=i: tracker.chat_text(i),
                               element_id=lambda i=i: tracker.stroke_id(i))
                    for i, bot in enumerate(bots)), return_exceptions=True)
            finally:
                if starver is not None:
                    starver.cancel()
                    await asyncio.gather(starver, return_exceptions=True)
            active = time.monotonic() - started
            tracker.ended = time.perf_counter_ns()
            client_cpu = time.process_time() - client_cpu
            busy_daphne, busy_main, busy_workers = server.sample()
            expected = {"chat": tracker.chat_sent * args.peers,
                        "board": tracker.strokes_sent * (args.peers - 1)}
            deadline = time.monotonic() + args.drain
            while tracker.delivered != expected and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            errors = [r for r in results if isinstance(r, BaseException)]
            board = await bots[0].board()
            history = await bots[-1].history()
        finally:
            await asyncio.gather(*(b.client.close() for b in locals().get("bots", [])),
                                 return_exceptions=True)
            server.stop()
    finally:
        server.cleanup()
    summary = tracker.samples.summary()
    workers_cpu = sum(w.cpu for w in busy_workers) - sum(w.cpu for w in idle_workers)
    return {
        "peers": args.peers,
        "seconds": round(active, 1),
        "chat_sent": tracker.chat_sent,
        "strokes_sent": tracker.strokes_sent,
        "deliveries": dict(tracker.delivered),
        "missing": {k: expected[k] - tracker.delivered[k] for k in expected},
        "expected": expected,
        "late": tracker.late,
        "missed_notices": tracker.missed_notices,
        "stopped_pct": round(100 * stopped[0] / active, 1),
        "latency": {k: summary[k] for k in ("chat delivery", "board delivery") if k in summary},
        "errors": len(errors),
        "error_examples": sorted({repr(e) for e in errors})[:3],
        "stored": {"board_elements": len(board["elements"]), "history": len(history)},
        "daphne_cpu_pct": round(100 * (busy_daphne.cpu - idle_daphne.cpu) / active, 1),
        "daphne_loop_cpu_pct": round(100 * (busy_main - idle_main) / active, 1),
        "workers_cpu_pct": round(100 * workers_cpu / active, 1),
        "daphne_rss_mib": round(busy_daphne.rss / 2**20, 1),
        "bots_cpu_pct": round(100 * client_cpu / active, 1),
        "load_average": load_average(),
    }


def _pair(row: dict[str, Any], key: str) -> str:
    stats = row["latency"].get(key)
    if not stats or not stats.get("n"):
        return "-"
    return f"{stats['p50_ms']:.1f}/{stats['p99_ms']:.1f}"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 1 on any error or missing delivery."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--chat-every", type=float, default=30.0,
                        help="mean seconds between one peer's chat messages")
    parser.add_argument("--draw-every", type=float, default=10.0,
                        help="mean seconds between one peer's pen strokes")
    parser.add_argument("--points", type=int, default=40, help="points per stroke")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds to connect everyone")
    parser.add_argument("--redis", metavar="URL", help="channel layer: channels-redis at URL")
    parser.add_argument("--database", choices=("sqlite", "inherit"), default="sqlite",
                        help="sqlite: a file of its own (default); inherit: a fresh database "
                             "on the PostgreSQL server of DATABASE_URL")
    parser.add_argument("--drain", type=float, default=30.0,
                        help="seconds to wait after the peers stop for deliveries still due")
    parser.add_argument("--starve", type=float, default=0.0, metavar="FRACTION",
                        help="hold daphne stopped this fraction of every 100 ms while the "
                             "peers act (CPU starvation of the server alone), e.g. 0.85")
    parser.add_argument("--profile-server", metavar="PATH",
                        help="run daphne under cProfile, stats written to PATH")
    parser.add_argument("--quick", action="store_true", help="5 peers for 6 s, busy (smoke)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.peers, args.seconds, args.ramp = 5, 6.0, 1.0
        args.chat_every, args.draw_every = 2.0, 1.0
    if args.peers < 2:
        parser.error("at least 2 peers")
    row = asyncio.run(run(args))
    bad = row["errors"] + sum(row["missing"].values())
    if args.json:
        print_json(row)
        return 1 if bad else 0
    layer = "channels-redis" if args.redis else "in-memory channel layer"
    database = "PostgreSQL" if args.database == "inherit" else "SQLite"
    print(f"collab: live daphne ({database}, {layer}), {args.peers} peers in one meeting, "
          f"chat every {args.chat_every:g} s and a {args.points}-point stroke every "
          f"{args.draw_every:g} s per peer; load average {row['load_average']}")
    print(format_table(
        ["peers", "s", "chat", "strokes", "chat p50/p99 ms", "board p50/p99 ms", "missing",
         "daphne %", "loop %", "workers %", "bots %"],
        [[row["peers"], row["seconds"], row["chat_sent"], row["strokes_sent"],
          _pair(row, "chat delivery"), _pair(row, "board delivery"),
          sum(row["missing"].values()), row["daphne_cpu_pct"], row["daphne_loop_cpu_pct"],
          row["workers_cpu_pct"], row["bots_cpu_pct"]]]))
    print(f"\ndeliveries: {row['deliveries']} of {row['expected']}; stored: {row['stored']}; "
          f"daphne held stopped {row['stopped_pct']} % of the active time; delivered after "
          f"the peers stopped: {row['late']}; events:missed notices: {row['missed_notices']}")
    print(f"errors: {row['errors']}{' ' + str(row['error_examples']) if row['errors'] else ''}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
