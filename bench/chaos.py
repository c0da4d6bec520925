"""Chaos: a live call under a schedule of faults for minutes, then a table of what it survived.

A live daphne (one mediasoup worker by default) runs on a PostgreSQL cluster and (with redis
faults) a redis-server of this run's own (``bench._services``: never the machine's shared
ones). ``--peers`` pymediasoup bots (``bots.peer.Bot``: a tone and a test pattern each) join
one meeting and consume each other. Then, round after round, one fault from ``--faults`` is
injected and the run waits until every peer decodes fresh audio and video from every other
peer again (the time to recover), or ``--recover-timeout`` passes (not recovered):

* ``worker``: SIGKILL every mediasoup worker of daphne (the pool replaces it, the room moves,
  the peers get ``rtc:reconnect`` and resume);
* ``database``: PostgreSQL stopped (``pg_ctl -m fast``) for ``--down`` seconds. Meanwhile an
  API request must answer 503 ``unavailable``, the media must go on, and one peer leaves the
  call (its leave is written late) and joins again once the database is back;
* ``redis``: redis-server killed for ``--down`` seconds and started again empty;
* ``link``: one peer's network dies silently (``bench._chaos_link``: the server and the peers
  in network namespaces, the far peer behind a link that drops every packet) for
  ``--link-down`` seconds, every other round for longer than the reconnect grace: a short drop
  must resume the same peer with its transports, a long one remove it (``rtc:peerLeft``) and
  the peer join afresh; anything else is a link mismatch;
* a peer whose socket closes reconnects with backoff and resumes (as the call page does).

The run ends after ``--count`` faults or ``--minutes``, whichever comes first. Then every peer
leaves and the table says: faults injected and recovered, time to recover (p50/p99/max),
requests failed (error replies other than ``unavailable``), requests refused ``unavailable``,
objects leaked (rooms, peers, transports, producers, consumers, routers left, workers missing
from the pool) and attendance mismatches (a user with no leave written, or a leave written
with another time than the peer left at).

    flock /tmp/conference-bench.lock .venv/bin/python -m bench.chaos --faults worker --count 50
    flock /tmp/conference-bench.lock .venv/bin/python -m bench.chaos --minutes 5 --count 30
    flock /tmp/conference-bench.lock .venv/bin/python -m bench.chaos --faults worker,redis,link
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from bench._chaos_link import LinkSetup
from bench._chaos_peer import ChaosPeer, Tally
from bench._common import format_table, load_average, summarize
from bench._services import PrivatePostgres, PrivateRedis
from bots import loopback
from bots.live_daphne import LiveDaphne, children_of
from bots.loopback import restrict_aiortc_to_loopback
from bots.signaling import SignalingClient

__all__ = ["SEED", "ChaosPeer", "Tally", "main"]

logger = logging.getLogger("bench.chaos")

FAULTS = ("worker", "database", "redis", "link")
FAR_PEER = "chaos-1"
"""With the link fault, the peer behind the link."""

SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
User = get_user_model()
tokens = {{}}
for name in [f"chaos-{{i}}" for i in range({peers})] + ["chaos-ops"]:
    user = User.objects.create_user(name, is_staff=name == "chaos-ops")
    tokens[name] = Token.objects.create(user=user).key
host = User.objects.get(username="chaos-0")
meeting = services.meeting_create(host=host, title="chaos")
for i in range(1, {peers}):
    services.participant_invite(meeting=meeting, actor=host, username=f"chaos-{{i}}")
ops = services.meeting_create(host=User.objects.get(username="chaos-ops"), title="ops")
print(json.dumps({{"meeting": str(meeting.id), "ops": str(ops.id), "tokens": tokens}}))
"""

ATTENDANCE = """
import json
from meetings.models import Participant
rows = Participant.objects.filter(meeting_id={meeting!r}).select_related("user")
print(json.dumps({{p.user.username: [p.joined_at and p.joined_at.timestamp(),
                                   p.left_at and p.left_at.timestamp()] for p in rows}}))
"""


async def _flowing(peers: list[ChaosPeer], timeout: float) -> bool:
    """Whether every peer decodes fresh audio and video from every other within ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                ids = [p.bot.peer_id for p in peers]
                waits = [p.bot.wait_frames(other, audio=5, video=2, timeout=timeout)
                         for p in peers for other in ids if other != p.bot.peer_id]
                results = await asyncio.gather(*waits, return_exceptions=True)
                if all(r is None for r in results) and ids == [p.bot.peer_id for p in peers]:
                    return True
                await asyncio.sleep(0.2)
    except TimeoutError:
        return False


def _api_status(server: LiveDaphne, token: str) -> tuple[int, str]:
    request = urllib.request.Request(f"{server.http_url}/api/meetings/",
                                     headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        body = json.loads(error.read() or b"{}")
        return error.code, str(body.get("code", ""))
    except (urllib.error.URLError, OSError) as error:
        return 0, type(error).__name__


class Chaos:
    """One run: services, server, peers, the schedule, the final checks."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tally = Tally()
        self.recoveries: dict[str, list[float]] = {f: [] for f in FAULTS}
        self.injected: Counter[str] = Counter()
        self.not_recovered: Counter[str] = Counter()
        self.expected_left: dict[str, float] = {}
        self.late_mismatches: list[str] = []
        self.api_checks: Counter[str] = Counter()
        self.peers: list[ChaosPeer] = []
        self.link: LinkSetup | None = None
        self.link_rounds = 0
        self.link_mismatches: list[str] = []

    async def run(self) -> dict[str, Any]:
        """Everything; the results."""
        args = self.args
        self.pg = await asyncio.to_thread(lambda: PrivatePostgres().start())
        self.redis = PrivateRedis().start() if "redis" in args.faults else None
        try:
            database = await asyncio.to_thread(self.pg.create_database, "chaos")
            env = {"DATABASE_URL": database, "DB_POOL_TIMEOUT": "3",
                   "RTC_REQUESTS_PER_SECOND": "200", "RTC_REQUEST_BURST": "400",
                   "RTC_RECONNECT_GRACE_SECONDS": f"{args.grace:g}"}
            redis_url = self.redis.url if self.redis else None
            options: dict[str, Any] = {}
            if "link" in args.faults:  # the server in a namespace (bench._chaos_link)
                self.link = LinkSetup().start()
                env.update(self.link.server_env(), DATABASE_URL=self.pg.unix_url("chaos"))
                redis_url = self.redis.unix_url if self.redis else None
                options = self.link.server_options()
                restrict_aiortc_to_loopback()
                loopback.LOOPBACK_ADDRESSES[:] = ["127.0.0.1", self.link.link.client_ip]
            self.server = LiveDaphne(env=env, worker_num=args.workers, log_level="INFO",
                                     redis_url=redis_url, prefix="conference-chaos-", **options)
            if self.link is not None:
                self.server.bind = "0.0.0.0"  # noqa: S104 (inside the run's own namespace)
            await asyncio.to_thread(self.server.start)
            try:
                return await self._call()
            finally:
                await asyncio.to_thread(self.server.stop)
        finally:
            if self.link is not None:
                self.link.close()
            if self.redis is not None:
                self.redis.close()
            await asyncio.to_thread(self.pg.close)

    def _peer(self, name: str) -> ChaosPeer:
        """A peer of the run: with the link fault, chaos-1 behind the link and the others
        next to the server (in its namespace)."""
        loop, far = None, None
        if self.link is not None:
            far = self.link if name == FAR_PEER else None
            loop = self.link.far if far else self.link.near
        return ChaosPeer(self.server, self.data["meeting"], name, self.data["tokens"][name],
                         self.tally, loop=loop, far=far)

    async def _near(self, coro: Any) -> Any:
        """Run ``coro`` where the server is reachable (its namespace with the link fault)."""
        return await (coro if self.link is None else self.link.near.run(coro))

    async def _call(self) -> dict[str, Any]:
        args = self.args
        self.data = await asyncio.to_thread(self.server.shell, SEED.format(peers=args.peers))
        self.peers = [self._peer(f"chaos-{i}") for i in range(args.peers)]
        for peer in self.peers:
            await peer.start()
        if not await _flowing(self.peers, 60):
            raise RuntimeError("the call never carried media before the first fault")
        started = time.monotonic()
        deadline = started + args.minutes * 60
        rng = random.Random(args.seed)
        for round_ in range(args.count):
            if time.monotonic() > deadline:
                break
            fault = args.faults[round_ % len(args.faults)] if not args.shuffle else rng.choice(
                args.faults)
            self.injected[fault] += 1
            took = await getattr(self, f"_fault_{fault}")()
            if took is None:
                self.not_recovered[fault] += 1
                logger.error("round %s: %s did not recover", round_ + 1, fault)
            else:
                self.recoveries[fault].append(took * 1000)
                logger.warning("round %s: %s recovered in %.2fs [load %s]", round_ + 1, fault,
                               took, load_average())
            await asyncio.sleep(args.pause)
        elapsed = time.monotonic() - started
        for peer in self.peers:
            await peer.stop()
        return {**self._results(await self._leaks(), await self._attendance()),
                "seconds": round(elapsed, 1)}

    # -- faults -----------------------------------------------------------------------------

    async def _fault_worker(self) -> float | None:
        assert self.server.process is not None
        workers = children_of(self.server.process.pid)
        before = {p.name: p.bot.joined for p in self.peers}
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        # Every peer's rejoin must be through (a new rtc:joined, a receive transport) before
        # frames count: frames still in flight from the old router would pass for recovery.
        try:
            async with asyncio.timeout(self.args.recover_timeout):
                while any(p.bot.joined is before[p.name] or not p.bot.receiving
                          for p in self.peers):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            return None
        if not await _flowing(self.peers, self.args.recover_timeout):
            return None
        return time.monotonic() - killed

    async def _fault_database(self) -> float | None:
        leaver = self.peers[-1]
        await asyncio.to_thread(self.pg.stop)
        stopped = time.monotonic()
        # The call goes on; what needs the database is refused cleanly.
        media = await _flowing(self.peers[:-1], self.args.down)
        status, code = await self._near(asyncio.to_thread(
            _api_status, self.server, self.data["tokens"]["chaos-ops"]))
        self.api_checks[f"during outage: {status} {code}".strip()] += 1
        await leaver.stop()
        self.expected_left[leaver.name] = time.time()
        await asyncio.sleep(max(0.0, self.args.down - (time.monotonic() - stopped)))
        await asyncio.to_thread(self.pg.start)
        restored = time.monotonic()
        await self._check_late_leave(leaver.name)
        replacement = self._peer(leaver.name)
        for attempt in range(40):
            try:
                await replacement.start()
                break
            except Exception as error:
                logger.info("rejoin after the outage, attempt %s: %r", attempt + 1, error)
                await replacement.close()
                replacement = self._peer(leaver.name)
                await asyncio.sleep(0.5)
        self.peers[-1] = replacement
        status, code = await self._near(asyncio.to_thread(
            _api_status, self.server, self.data["tokens"]["chaos-ops"]))
        self.api_checks[f"after outage: {status} {code}".strip()] += 1
        if not media or not await _flowing(self.peers, self.args.recover_timeout):
            return None
        return time.monotonic() - restored

    async def _check_late_leave(self, name: str) -> None:
        """The leave of ``name`` during the outage is written, with the time it happened."""
        expected = self.expected_left[name]
        deadline = time.monotonic() + 30
        while True:
            rows = await asyncio.to_thread(self.server.shell,
                                           ATTENDANCE.format(meeting=self.data["meeting"]))
            left = rows.get(name, [None, None])[1]
            if left is not None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        if left is None or abs(left - expected) > 2.0:
            self.late_mismatches.append(f"{name}: left at {expected:.1f}, written {left}")

    async def _fault_redis(self) -> float | None:
        assert self.redis is not None
        await asyncio.to_thread(self.redis.restart, self.args.down)
        restored = time.monotonic()
        if not await _flowing(self.peers, self.args.recover_timeout):
            return None
        return time.monotonic() - restored

    async def _fault_link(self) -> float | None:
        """The far peer's link dies (``--link-down`` s, every other round longer than the
        grace), then comes back; the time from its return to media flowing everywhere."""
        assert self.link is not None
        far = next(p for p in self.peers if p.name == FAR_PEER)
        near = next(p for p in self.peers if p is not far)
        self.link_rounds += 1
        long = self.link_rounds % 2 == 0
        down = self.args.grace + 15 if long else self.args.link_down
        peer_id, resumes, seen = far.bot.peer_id, len(far.bot.resumes), len(near.bot.events)
        self.link.cut()
        await asyncio.sleep(down)
        self.link.restore()
        restored = time.monotonic()
        try:
            async with asyncio.timeout(self.args.recover_timeout):
                while len(far.bot.resumes) == resumes:
                    await asyncio.sleep(0.05)
        except TimeoutError:
            return None
        outcome = far.bot.resumes[-1]
        left = [e for e in near.bot.events[seen:] if e["type"] == "rtc:peerLeft"
                and e["data"].get("peerId") == peer_id]
        expected = "rejoined" if long else "kept"
        if outcome != expected or bool(left) != long:
            self.link_mismatches.append(f"round {self.link_rounds} ({down:g} s): {outcome}, "
                                        f"peerLeft {[e['data'] for e in left]}")
        if not await _flowing(self.peers, self.args.recover_timeout):
            return None
        return time.monotonic() - restored

    # -- the end ----------------------------------------------------------------------------

    async def _leaks(self) -> dict[str, Any]:
        return await self._near(self._count_leaks())

    async def _count_leaks(self) -> dict[str, Any]:
        url = self.server.ws_url(self.data["ops"], self.data["tokens"]["chaos-ops"])
        ops = SignalingClient(url, origin=self.server.origin, name="ops")
        await ops.connect()
        try:
            deadline = time.monotonic() + 30
            while True:
                stats = await ops.request("rtc:serverStats", {})
                left = {k: stats[k] for k in ("rooms", "peers", "transports", "producers",
                                              "consumers")}
                routers = sum(len(d["routerIds"]) for d in stats["workerDumps"])
                if (not any(left.values()) and not routers) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
        finally:
            await ops.close()
        missing = self.args.workers - stats["workers"]
        return {"left": left, "routers": routers, "workers_missing": missing,
                "leaked": sum(left.values()) + routers + max(missing, 0)}

    async def _attendance(self) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            rows = await asyncio.to_thread(self.server.shell,
                                           ATTENDANCE.format(meeting=self.data["meeting"]))
            open_rows = [name for name, (_, left) in rows.items() if left is None]
            if not open_rows or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        mismatches = [f"{name}: no leave written" for name in open_rows]
        mismatches += self.late_mismatches
        log = self.server.log_path.read_text(errors="replace")
        return {"rows": len(rows), "mismatches": mismatches,
                "late_leaves_written": log.count("leave written late")}

    def _results(self, leaks: dict[str, Any], attendance: dict[str, Any]) -> dict[str, Any]:
        per_fault = {}
        for fault in self.args.faults:
            times = self.recoveries[fault]
            per_fault[fault] = {"injected": self.injected[fault], "recovered": len(times),
                                "ttr_ms": summarize(times) if times else {}}
        return {"faults": per_fault, "requests": self.tally.requests,
                "failed": dict(self.tally.failed), "unavailable": self.tally.unavailable,
                "resumes_refused": self.tally.resumes_refused,
                "socket_reconnects": sum(p.socket_reconnects for p in self.peers),
                "api": dict(self.api_checks), "leaks": leaks, "attendance": attendance,
                "link_mismatches": self.link_mismatches,
                "load": load_average()}


def table(results: dict[str, Any]) -> str:
    """The summary table (Markdown-friendly)."""
    rows = []
    for fault, row in results["faults"].items():
        ttr = row["ttr_ms"]
        seconds = [round(ttr[k] / 1000, 2) if k in ttr else "-"
                   for k in ("p50_ms", "p99_ms", "max_ms")]
        rows.append([fault, row["injected"], row["recovered"], *seconds])
    out = format_table(["fault", "injected", "recovered", "ttr p50 s", "ttr p99 s",
                        "ttr max s"], rows)
    leaks, attendance = results["leaks"], results["attendance"]
    out += "\n" + format_table(
        ["requests", "failed", "unavailable", "socket reconnects", "objects leaked",
         "attendance mismatches", "late leaves", "link mismatches", "seconds", "load"],
        [[results["requests"], sum(results["failed"].values()), results["unavailable"],
          results["socket_reconnects"], leaks["leaked"], len(attendance["mismatches"]),
          attendance["late_leaves_written"], len(results["link_mismatches"]),
          results["seconds"], results["load"]]])
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the schedule, print the table (and JSON with ``--json``); 1 if anything failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--faults", default="worker,database,redis",
                        help="comma-separated, from: " + ", ".join(FAULTS))
    parser.add_argument("--count", type=int, default=30, help="faults at most")
    parser.add_argument("--minutes", type=float, default=10.0, help="run time at most")
    parser.add_argument("--down", type=float, default=10.0,
                        help="seconds a database or Redis stays down")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between faults")
    parser.add_argument("--recover-timeout", type=float, default=60.0)
    parser.add_argument("--grace", type=float, default=15.0,
                        help="the server's reconnect grace (RTC_RECONNECT_GRACE_SECONDS)")
    parser.add_argument("--link-down", type=float, default=6.0,
                        help="seconds a short link drop lasts (a long one: grace + 15)")
    parser.add_argument("--shuffle", action="store_true", help="faults in random order")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(args.faults) - set(FAULTS)
    if unknown or args.peers < 2:
        parser.error(f"unknown faults {sorted(unknown)}" if unknown else "--peers >= 2")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    restrict_aiortc_to_loopback()
    results = asyncio.run(Chaos(args).run())
    print(table(results))
    if args.json:
        print(json.dumps(results, indent=1))
    ok = (all(r["recovered"] == r["injected"] for r in results["faults"].values())
          and not results["failed"] and results["leaks"]["leaked"] == 0
          and not results["attendance"]["mismatches"] and not results["link_mismatches"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
