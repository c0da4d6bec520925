"""The cluster under load: call set-up on 1, 2 and 3 nodes, the cost of a relayed request, and
the failover time from a node's SIGKILL to media flowing again.

Every node is a daphne (``bots.live_cluster.LiveCluster``: one mediasoup worker each, media on
``127.0.0.<i+1>``) on one PostgreSQL database and one Redis, behind the round-robin TCP
balancer of ``make cluster`` (``python -m bots.balancer``, its own process), so each new socket
lands on the next node, as in production. Three tables:

* **set-up**: for 1, 2 and 3 nodes, ``--peers`` users (one per peer, their own DRF token, in
  meetings of ``--per-meeting``) run the browser's call set-up of ``bench/signaling.py``
  arriving at each rate of ``--rates`` peers per second: ``rtc:join`` p50/p99, the whole set-up
  (join→consumed) p99, errors; then ``--burst`` peers all at once (wall time). The highest
  rate whose join p99 stays under 100 ms is the ``max rate`` column.
* **relay**: two nodes, a call owned by node0, one peer on node0 (direct) and one on node1
  (relayed), each sending ``--relay-requests`` ``rtc:getStats`` one after another: p50/p99 of
  each and the difference.
* **failover**: four nodes; ``--kills`` times a call of three bots with media (aiortc) is set
  up with the owner's peer on the owner and the others elsewhere, the owner is SIGKILLed, and
  the time until both remaining bots decode each other again is taken.

Usage::

    .venv/bin/python -m bench.cluster [--quick] [--nodes 1,2,3] [--rates 10,20,40,80]
        [--peers 100] [--burst 500] [--relay-requests 300] [--kills 5] [--json]

Needs PostgreSQL (``DATABASE_URL``'s server, else ``postgres://postgres@127.0.0.1:5432``) and
Redis (``--redis``, default ``redis://127.0.0.1:6379/7``). A 2-core machine runs every node,
the balancer and all clients: the figures compare shapes on one machine, not capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    LoopbackTarget,
    ProcSample,
    Samples,
    format_table,
    load_average,
    print_json,
    process_tree_sample,
)
from bench._server import _ENV, INVITE, SEED  # noqa: E402
from bench.signaling import run_row  # noqa: E402
from bots.live_cluster import LiveCluster  # noqa: E402
from bots.live_daphne import ROOT, free_port  # noqa: E402
from bots.peer import Bot  # noqa: E402
from bots.signaling import SignalingClient  # noqa: E402

__all__ = ["main"]

NODE_ENV = {**_ENV, "DJANGO_SETTINGS_MODULE": "bench.signaling_settings", "DEBUG": "0"}


class ClusterTarget(LoopbackTarget):
    """A started cluster and its balancer, as ``bench.signaling.run_row`` drives a server:
    ``url``/``origin`` of the balancer, ``sample()`` summed over every node."""

    def __init__(self, nodes: int, redis_url: str, *, env: dict[str, str] | None = None) -> None:
        self.cluster = LiveCluster(nodes, redis_url=redis_url, env={**NODE_ENV, **(env or {})},
                                   log_level="WARNING", prefix="bench-cluster-")
        self.port = free_port()
        self.balancer: subprocess.Popen[bytes] | None = None

    def open(self) -> ClusterTarget:
        """Start the nodes and the balancer."""
        self.cluster.start()
        backends = [f"127.0.0.1:{n.port}" for n in self.cluster.nodes]
        self.balancer = subprocess.Popen(  # noqa: S603 (fixed argv)
            [sys.executable, "-m", "bots.balancer", "--port", str(self.port), *backends],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.balancer.stdout is not None
        self.balancer.stdout.readline()  # "balancer on ..." once it listens
        return self

    def close(self) -> None:
        """Stop the balancer and the nodes; drop the database."""
        if self.balancer is not None:
            self.balancer.kill()
            self.balancer.wait(10)
        self.cluster.cleanup()

    # -- what run_row uses besides url and origin (the balancer's) ----------------------------

    def start(self) -> None:
        """Nothing: the nodes run for the whole table."""

    def stop(self) -> None:
        """Nothing (see start)."""

    def log(self) -> str:
        """The end of every node's log."""
        return self.cluster.logs()

    def sample(self) -> tuple[ProcSample, float, list[ProcSample]]:
        """Every node's daphne summed as one, the sum of their main threads' CPU, and every
        worker."""
        now, cpu, rss, main, workers = time.monotonic(), 0.0, 0, 0.0, []
        for node in self.cluster.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            sample, loop, children = process_tree_sample(node.process.pid)
            cpu, rss, main = cpu + sample.cpu, rss + sample.rss, main + loop
            workers += children
        return ProcSample(wall=now, cpu=cpu, rss=rss), main, workers

    # -- data -------------------------------------------------------------------------------

    def seed(self, *, users: int, meetings: int, capacity: int) -> dict[str, Any]:
        """Users with tokens and invited-only meetings (``bench._server.SEED``)."""
        return self.cluster.shell(SEED.format(users=users, meetings=meetings, capacity=capacity))

    def invite(self, pairs: list[tuple[str, int]]) -> None:
        """Invite each user id to its meeting id."""
        self.cluster.shell(INVITE.format(pairs=json.dumps(pairs)))


# -- set-up -----------------------------------------------------------------------------------


async def setup_rows(args: argparse.Namespace, nodes: int) -> list[dict[str, Any]]:
    """One cluster of ``nodes``: a row per rate of ``args.rates``, then the burst row."""
    plan = [(rate, args.peers) for rate in args.rates] + [(0.0, args.burst)]
    per = args.per_meeting
    target = ClusterTarget(nodes, args.redis)
    try:
        await asyncio.to_thread(target.open)
        meetings_needed = sum(max(1, n // per) + 1 for _, n in plan)
        seeded = await asyncio.to_thread(target.seed, users=max(n for _, n in plan) + 2,
                                         meetings=meetings_needed, capacity=2 * per)
        tokens, users, pool = seeded["tokens"], seeded["users"], seeded["meetings"]
        rows = []
        for rate, peers in plan:
            count = max(1, peers // per)
            used, pool = pool[:count + 1], pool[count + 1:]
            warm_up, meetings = used[0], used[1:]
            seats = [(warm_up, 0), (warm_up, 1)] + [(meetings[i * count // peers], i)
                                                    for i in range(peers)]
            await asyncio.to_thread(target.invite, [(m, users[i]) for m, i in seats])
            ramp = peers / rate if rate else 0.0
            row = await run_row(target, peers=peers, tokens=tokens, meetings=meetings,
                                warm_up_meeting=warm_up, ramp=ramp)
            row.update(nodes=nodes, rate=rate or "burst")
            rows.append(row)
            await asyncio.sleep(2)  # the rooms of the row close
        return rows
    finally:
        await asyncio.to_thread(target.close)


# -- relay ------------------------------------------------------------------------------------

RELAY_SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
User = get_user_model()
host = User.objects.create_user("relay-host")
guest = User.objects.create_user("relay-guest")
meeting = services.meeting_create(host=host, title="relay", capacity=10)
services.participant_invite(meeting=meeting, actor=host, username="relay-guest")
print(json.dumps({"meeting": str(meeting.id), "host": Token.objects.create(user=host).key,
                  "guest": Token.objects.create(user=guest).key}))
"""


async def _timed_requests(client: SignalingClient, transport: str, count: int,
                          samples: Samples, name: str) -> None:
    for _ in range(count):
        start = time.perf_counter_ns()
        await client.request("rtc:getStats", {"transportId": transport})
        samples.add_ns(name, start)


async def relay_row(args: argparse.Namespace) -> dict[str, Any]:
    """Direct against relayed ``rtc:getStats`` on a two-node cluster."""
    target = ClusterTarget(2, args.redis)
    clients: list[SignalingClient] = []
    try:
        await asyncio.to_thread(target.open)
        data = await asyncio.to_thread(target.cluster.shell, RELAY_SEED)
        nodes = target.cluster.nodes
        direct = SignalingClient(nodes[0].ws_url(data["meeting"], data["host"]),
                                 origin=nodes[0].origin, name="direct")
        relayed = SignalingClient(nodes[1].ws_url(data["meeting"], data["guest"]),
                                  origin=nodes[1].origin, name="relayed")
        clients += [direct, relayed]
        transports = []
        for client, name in ((direct, "direct"), (relayed, "relayed")):
            await client.connect()
            await client.request("rtc:join", {"displayName": name})
            created = await client.request("rtc:createTransport", {"direction": "recv"})
            transports.append(created["id"])
        samples = Samples()
        for client, transport, name in ((direct, transports[0], "direct"),
                                        (relayed, transports[1], "relayed")):
            await _timed_requests(client, transport, 20, Samples(), name)  # warm up
            await _timed_requests(client, transport, args.relay_requests, samples, name)
        summary = samples.summary()
        return {"requests": args.relay_requests, "direct": summary["direct"],
                "relayed": summary["relayed"]}
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        await asyncio.to_thread(target.close)


# -- failover ---------------------------------------------------------------------------------

FAILOVER_SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
User = get_user_model()
users = {{name: User.objects.create_user(name) for name in ("ada", "bea", "cyd")}}
meetings = []
for i in range({kills}):
    meeting = services.meeting_create(host=users["ada"], title=f"failover {{i}}", capacity=10)
    for name in ("bea", "cyd"):
        services.participant_invite(meeting=meeting, actor=users["ada"], username=name)
    meetings.append(str(meeting.id))
print(json.dumps({{"meetings": meetings,
                  "tokens": {{n: Token.objects.create(user=u).key for n, u in users.items()}}}}))
"""


def _media_flows(a: Bot, b: Bot) -> bool:
    return (a.frames.get((b.peer_id, "video"), 0) > 3
            and b.frames.get((a.peer_id, "video"), 0) > 3)


async def _until(check: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def failover_row(args: argparse.Namespace) -> dict[str, Any]:
    """``args.kills`` SIGKILLs of a call's owner: seconds until media flows again."""
    target = ClusterTarget(args.kills + 2, args.redis, env={"RTC_RECONNECT_GRACE_SECONDS": "15"})
    times: list[float] = []
    failures: list[str] = []
    try:
        await asyncio.to_thread(target.open)
        cluster = target.cluster
        data = await asyncio.to_thread(cluster.shell, FAILOVER_SEED.format(kills=args.kills))
        alive = list(range(len(cluster.nodes)))
        for meeting in data["meetings"]:
            owner_index = alive[0]  # ada joins first on the lowest live node, which the
            others = alive[1:3]     # placement picks when the loads are equal
            bots = [Bot(cluster.nodes[i].ws_url(meeting, data["tokens"][name]),
                        origin=cluster.nodes[i].origin, name=name)
                    for i, name in zip([owner_index, *others], ("ada", "bea", "cyd"),
                                       strict=True)]
            try:
                for bot in bots:
                    await bot.connect()
                    await bot.join()
                for bot in bots:
                    await bot.publish()
                _, bea, cyd = bots
                await _until(lambda b=bea, c=cyd: _media_flows(b, c), 30)
                killed = time.monotonic()
                await asyncio.to_thread(cluster.kill, owner_index)
                alive.remove(owner_index)
                await _until(lambda b=bea, c=cyd: bool(b.reconnects and c.reconnects
                                                       and _media_flows(b, c)), 30)
                times.append(time.monotonic() - killed)
            except TimeoutError:
                failures.append(meeting)
            finally:
                await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)
            await asyncio.sleep(1)
    finally:
        await asyncio.to_thread(target.close)
    return {"kills": args.kills, "seconds": [round(t, 2) for t in times],
            "p50": round(statistics.median(times), 2) if times else None,
            "max": round(max(times), 2) if times else None, "failed": len(failures)}


# -- the tables -------------------------------------------------------------------------------


def _p(row: dict[str, Any], op: str, q: str) -> Any:
    return row["latency"].get(op, {}).get(f"{q}_ms", "-")


def print_tables(setup: list[dict[str, Any]], relay: dict[str, Any] | None,
                 failover: dict[str, Any] | None) -> None:
    """The three tables, plain text."""
    if setup:
        print(format_table(  # noqa: T201
            ["nodes", "rate/s", "peers", "join p50 ms", "join p99 ms", "set-up p99 ms",
             "wall s", "errors"],
            [[r["nodes"], r["rate"], r["peers"], _p(r, "rtc:join", "p50"),
              _p(r, "rtc:join", "p99"), _p(r, "join→consumed", "p99"), r["wall_s"],
              r["errors"]] for r in setup]), end="\n\n")
        best = {}
        for r in setup:
            p99 = r["latency"].get("rtc:join", {}).get("p99_ms")
            if r["rate"] != "burst" and r["errors"] == 0 and p99 is not None and p99 < 100:
                best[r["nodes"]] = max(best.get(r["nodes"], 0), r["rate"])
        print(format_table(["nodes", "max rate/s with join p99 < 100 ms"],  # noqa: T201
                           [[n, best.get(n, "none tried")]
                            for n in sorted({r["nodes"] for r in setup})]), end="\n\n")
    if relay:
        print(format_table(  # noqa: T201
            ["rtc:getStats", "p50 ms", "p99 ms"],
            [["direct (owner node)", relay["direct"]["p50_ms"], relay["direct"]["p99_ms"]],
             ["relayed (other node)", relay["relayed"]["p50_ms"], relay["relayed"]["p99_ms"]],
             ["relay cost", round(relay["relayed"]["p50_ms"] - relay["direct"]["p50_ms"], 2),
              round(relay["relayed"]["p99_ms"] - relay["direct"]["p99_ms"], 2)]]), end="\n\n")
    if failover:
        print(format_table(["kills", "media back p50 s", "max s", "failed", "each s"],  # noqa: T201
                           [[failover["kills"], failover["p50"], failover["max"],
                             failover["failed"], " ".join(map(str, failover["seconds"]))]]),
              end="\n\n")
    print(f"load average at the end: {load_average()}")  # noqa: T201


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every table asked for."""
    setup: list[dict[str, Any]] = []
    for nodes in args.nodes:
        setup += await setup_rows(args, nodes)
    relay = await relay_row(args) if args.relay_requests else None
    failover = await failover_row(args) if args.kills else None
    return {"setup": setup, "relay": relay, "failover": failover}


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--rates", default="10,20,40,80")
    parser.add_argument("--peers", type=int, default=100, help="peers per rate row")
    parser.add_argument("--burst", type=int, default=500, help="peers of the burst row")
    parser.add_argument("--per-meeting", type=int, default=10)
    parser.add_argument("--relay-requests", type=int, default=300)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--quick", action="store_true",
                        help="smoke: 1 node at 20/s and a burst of 4, 20 relayed, 1 kill")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.nodes = [int(n) for n in args.nodes.split(",") if n]
    args.rates = [float(r) for r in args.rates.split(",") if r]
    if args.quick:
        args.nodes, args.rates, args.peers, args.burst = [1], [20.0], 4, 4
        args.per_meeting, args.relay_requests, args.kills = 2, 20, 1
    results = asyncio.run(run(args))
    if args.json:
        print_json(results)
    else:
        print_tables(results["setup"], results["relay"], results["failover"])
    return 1 if any(r["errors"] for r in results["setup"]) or (
        results["failover"] and results["failover"]["failed"]) else 0


if __name__ == "__main__":
    sys.exit(main())
