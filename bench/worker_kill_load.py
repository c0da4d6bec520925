"""A mediasoup worker killed while many peers join, produce and consume: nothing lost, nothing left.

``--peers`` scripted peers (``bots.signaling.SignalingClient``, the protocol without media:
made-up DTLS parameters and an Opus producer each, as ``bench/soak.py`` does) join one meeting
at once, each creating a send and a receive transport, producing, and consuming every other
peer's producer; while they are at it, every worker of daphne is SIGKILLed. A peer told
``rtc:reconnect`` starts its set-up again on the same socket (resuming its peer). Then each
peer catches up once (``rtc:join`` with ``resume`` on its open socket returns the call as it
is now) and consumes what it still misses. Checked: every request answered (a reply or an error
reply; none timed out, no socket closed), every peer back with 2 transports, 1 producer and a
consumer of each other peer, the pool whole (as many workers as configured), and after every
peer left, nothing left: no room, peer, transport, producer, consumer or router.

    flock /tmp/conference-bench.lock .venv/bin/python -m bench.worker_kill_load --peers 100

``tests/faults/test_fault_worker_load.py`` runs it with 20 peers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from typing import Any

from bench._common import load_average, summarize
from bench.soak import DTLS, opus_parameters
from bots.live_daphne import LiveDaphne, children_of
from bots.signaling import SignalingClient, SignalingError, SocketClosed

__all__ = ["Outcome", "ScriptedPeer", "run"]

SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
User = get_user_model()
tokens = []
users = [User.objects.create_user(f"load-{{i}}") for i in range({peers})]
ops = User.objects.create_user("load-ops", is_staff=True)
meeting = services.meeting_create(host=users[0], title="load", capacity={peers})
for u in users[1:]:
    services.participant_invite(meeting=meeting, actor=users[0], username=u.username)
ops_room = services.meeting_create(host=ops, title="ops")
print(json.dumps({{"meeting": str(meeting.id), "ops": str(ops_room.id),
                  "tokens": [Token.objects.create(user=u).key for u in users],
                  "ops_token": Token.objects.create(user=ops).key}}))
"""

SERVER_ENV = {"RTC_TRANSPORT_CONNECT_TIMEOUT_SECONDS": "0", "RTC_REQUESTS_PER_SECOND": "1000",
              "RTC_REQUEST_BURST": "2000", "RTC_MAX_PEERS_PER_MEETING": "500",
              "RTC_RECONNECT_GRACE_SECONDS": "30"}


class Outcome:
    """Request outcomes of all peers."""

    def __init__(self) -> None:
        self.replies = 0
        self.errors: Counter[str] = Counter()
        self.unanswered: Counter[str] = Counter()


class ScriptedPeer:
    """One peer's set-up, again after each ``rtc:reconnect``."""

    def __init__(self, url: str, origin: str, name: str, outcome: Outcome) -> None:
        self.sig = SignalingClient(url, origin=origin, name=name, timeout=60,
                                   keep_events=False)
        self.sig.on_event(self._event)
        self.name = name
        self.outcome = outcome
        self.generation = 0
        self.peer_id = ""
        self.token = ""
        self.recv = ""
        self.consumed: set[str] = set()
        self.announced: dict[str, str] = {}
        self.reconnects = 0
        self.settled_generation = -1
        self.settled_at = 0.0
        """When (monotonic) its last set-up ran through."""
        self.capabilities: dict[str, Any] = {}

    def _event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "rtc:reconnect":
            self.generation += 1
            self.reconnects += 1
        elif kind == "rtc:newProducer":
            self.announced[data["producerId"]] = data["peerId"]
        elif kind == "rtc:producerClosed":
            self.announced.pop(data.get("producerId", ""), None)

    async def request(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """A request, its outcome counted."""
        try:
            reply = await self.sig.request(kind, data)
        except SignalingError as error:
            self.outcome.errors[f"{kind}:{error.code}"] += 1
            raise
        except (TimeoutError, SocketClosed) as error:
            self.outcome.unanswered[f"{kind}:{type(error).__name__}"] += 1
            raise
        self.outcome.replies += 1
        return reply

    async def join(self) -> dict[str, Any]:
        """rtc:join, resuming this peer once it has one."""
        data: dict[str, Any] = {"displayName": self.name}
        if self.peer_id:
            data["resume"] = {"peerId": self.peer_id, "token": self.token}
        joined = await self.request("rtc:join", data)
        self.peer_id, self.token = joined["peerId"], joined["resumeToken"]
        self.capabilities = joined["routerRtpCapabilities"]
        return joined

    async def setup(self) -> None:
        """Join (or resume), transports, a producer, consumers of everything known."""
        joined = await self.join()
        own = joined.get("transports") or []
        if own and (sorted(t["direction"] for t in own) != ["recv", "send"]
                    or len(joined.get("producers") or []) != 1):
            # A set-up cut short on the new router (a request that had reached the dead
            # worker failed after the transports were made): start that set-up again.
            for transport in own:
                try:
                    await self.request("rtc:closeTransport", {"transportId": transport["id"]})
                except SignalingError:
                    pass
            own = []
        if own:
            self.recv = next(t["id"] for t in own if t["direction"] == "recv")
        else:
            self.consumed.clear()
            send = await self.request("rtc:createTransport", {"direction": "send"})
            await self.request("rtc:connectTransport", {"transportId": send["id"],
                                                        "dtlsParameters": DTLS})
            await self.request("rtc:produce", {"transportId": send["id"], "kind": "audio",
                                               "rtpParameters": opus_parameters()})
            recv = await self.request("rtc:createTransport", {"direction": "recv"})
            await self.request("rtc:connectTransport", {"transportId": recv["id"],
                                                        "dtlsParameters": DTLS})
            self.recv = recv["id"]
        await self.consume_known(joined)

    async def consume_known(self, joined: dict[str, Any]) -> None:
        """Consume every other peer's producer in ``joined`` or announced, not yet consumed."""
        known = {p["id"]: peer["peerId"] for peer in joined["peers"] for p in peer["producers"]}
        known.update(self.announced)
        for producer_id, owner in known.items():
            if producer_id in self.consumed or owner == self.peer_id:
                continue
            try:
                consumer = await self.request("rtc:consume", {
                    "transportId": self.recv, "producerId": producer_id,
                    "rtpCapabilities": self.capabilities})
            except SignalingError as error:
                if error.code == "not_found":  # gone with the old router: not ours to keep
                    continue
                raise
            self.consumed.add(producer_id)
            await self.request("rtc:resumeConsumer", {"consumerId": consumer["id"]})

    async def run(self) -> None:
        """Set up until a set-up ran through with no ``rtc:reconnect`` meanwhile."""
        while True:
            generation = self.generation
            try:
                await self.setup()
            except SignalingError:
                # A request that reached the dead worker's objects is answered with an error
                # ("media server unavailable, reconnect"); the rtc:reconnect comes next.
                deadline = time.monotonic() + 15
                while self.generation == generation and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                if self.generation == generation:
                    raise
                continue
            if self.generation == generation:
                self.settled_generation = generation
                self.settled_at = time.monotonic()
                return

    async def catch_up(self) -> None:
        """The call as it is now (a resume on the open socket), then what is still missing."""
        await self.consume_known(await self.join())


async def _stats(server: LiveDaphne, data: dict[str, Any]) -> dict[str, Any]:
    ops = SignalingClient(server.ws_url(data["ops"], data["ops_token"]), origin=server.origin,
                          name="ops", keep_events=False)
    await ops.connect()
    try:
        return await ops.request("rtc:serverStats", {})
    finally:
        await ops.close()


async def run(server: LiveDaphne, data: dict[str, Any], *, workers: int,
              kill_after: float = 0.5) -> dict[str, Any]:
    """Peers set up while the workers are killed; the checks' figures (see the docstring)."""
    outcome = Outcome()
    tokens = data["tokens"]
    peers = [ScriptedPeer(server.ws_url(data["meeting"], token), server.origin, f"load-{i}",
                          outcome) for i, token in enumerate(tokens)]
    gate = asyncio.Semaphore(10)  # 100 handshakes at once overwhelm a busy 2-core daphne

    async def connect(peer: ScriptedPeer) -> None:
        async with gate:
            await peer.sig.connect()

    await asyncio.gather(*(connect(p) for p in peers))
    started = time.monotonic()
    tasks = [asyncio.ensure_future(p.run()) for p in peers]
    assert server.process is not None
    await asyncio.sleep(kill_after)
    killed = children_of(server.process.pid)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # Peers that finished before their rtc:reconnect arrived set up once more.
    await asyncio.sleep(1.0)
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    for _ in range(3):
        again = [p.run() for p in peers if p.generation != p.settled_generation]
        if not again:
            break
        results = await asyncio.gather(*again, return_exceptions=True)
        failures += [repr(r) for r in results if isinstance(r, BaseException)]
    for _ in range(2):
        await asyncio.gather(*(p.catch_up() for p in peers), return_exceptions=True)
    settled = time.monotonic() - started
    # Per peer told to reconnect: from the kill to its set-up on the new router run through.
    recovery = [1000 * (p.settled_at - killed_at) for p in peers if p.reconnects]
    during = await _stats(server, data)
    back = len(peers)
    expected = {"peers": back, "transports": 2 * back, "producers": back,
                "consumers": back * (back - 1), "workers": workers}
    got = {k: during[k] for k in expected}
    await asyncio.gather(*(p.request("rtc:leave", {}) for p in peers), return_exceptions=True)
    await asyncio.gather(*(p.sig.close() for p in peers))
    deadline = time.monotonic() + 20
    while True:
        after = await _stats(server, data)
        left = {k: after[k] for k in ("rooms", "peers", "transports", "producers", "consumers")}
        routers = sum(len(d["routerIds"]) for d in after["workerDumps"])
        if (not any(left.values()) and not routers) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    return {"peers": back, "killed": len(killed),
            "reconnects": sum(p.reconnects for p in peers), "replies": outcome.replies,
            "errors": dict(outcome.errors), "unanswered": dict(outcome.unanswered),
            "failures": failures, "expected": expected, "got": got, "left": left,
            "routers": routers, "workers_after": after["workers"],
            "settled_s": round(settled, 2),
            "recovery_ms": summarize(recovery) if recovery else {}, "load": load_average()}


def server_errors(server: LiveDaphne, limit: int = 5) -> list[str]:
    """The first ``limit`` handler failures in the server's log (what an ``internal`` reply
    hid), each its log line and the last line of its traceback."""
    lines = server.log_path.read_text(errors="replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if "handler for" in line and "failed" in line:
            tail = next((t for t in lines[i + 1:i + 60] if t and not t.startswith((" ", "Trace"))),
                        "")
            found.append(f"{line.strip()} | {tail.strip()}")
            if len(found) >= limit:
                break
    return found


def start_server(peers: int, workers: int) -> tuple[LiveDaphne, dict[str, Any]]:
    """A live daphne for the run, seeded."""
    server = LiveDaphne(env=SERVER_ENV, worker_num=workers, log_level="WARNING",
                        prefix="conference-killload-")
    server.start()
    return server, server.shell(SEED.format(peers=peers))


def main(argv: list[str] | None = None) -> int:
    """Run once, print the figures as JSON; 1 when a check fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--kill-after", type=float, default=1.0)
    args = parser.parse_args(argv)
    server, data = start_server(args.peers, args.workers)
    try:
        result = asyncio.run(run(server, data, workers=args.workers,
                                 kill_after=args.kill_after))
        result["server_errors"] = server_errors(server)
    finally:
        server.cleanup()
    print(json.dumps(result, indent=1))
    ok = (not result["unanswered"] and not result["failures"]
          and result["got"] == result["expected"] and not any(result["left"].values())
          and not result["routers"] and result["workers_after"] == args.workers)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
