"""How many Redis commands a peer's call set-up and leave cost on the production shape.

A live daphne (one worker) on a redis-server of the test's own, watched with ``MONITOR``:
every command Redis receives is recorded (a script's inner commands are not, a script call is
one command), so a change that adds a round trip to the connect, the join or the leave shows
here as a count that grew. The node's own periodic work (heartbeat, the channel layer's
blocking receive) and connection set-up are left out; phases are told apart by an ``ECHO``
this test sends once the server went quiet.

A second peer's set-up takes 6 round trips, not the 10 it took before: the group's
``ZADD`` and ``EXPIRE`` are one script, the presence mirror's ``SADD`` and ``EXPIRE`` one
batched script call, and the placement (``GET`` then ``EXISTS`` before) none at all on the
node that surely owns the call (`rtc.cluster.node.Node.owns`), one script otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from mediasoup_ctl import worker_bin_path

from bench._services import PrivateRedis
from bench.signaling import DTLS_PARAMETERS, opus_parameters
from bots.live_daphne import LiveDaphne
from bots.signaling import SignalingClient
from conference import channel_layers
from rtc.cluster import presence, store
from tests.rtc.cluster.conftest import MEETING, SEED

pytestmark = [pytest.mark.timeout(180)]

SCRIPTS = {
    hashlib.sha1(text.encode()).hexdigest(): name  # noqa: S324
    for name, text in (
        ("sockets.acquire", store._ACQUIRE), ("sockets.release", store._RELEASE_SOCKET),
        ("placement.claim", store._CLAIM), ("placement.owner", store._OWNER),
        ("heartbeat.renew", store._RENEW), ("presence.write", presence._WRITE),
        ("group.add", channel_layers._GROUP_ADD_LUA),
        ("group.discard", channel_layers._GROUP_DISCARD_LUA),
        ("group.send", channel_layers._REMOTE_MEMBERS_LUA),
    )
}
CONNECTION = {"SELECT", "CLIENT", "HELLO", "AUTH", "PING", "SCRIPT"}
"""Connection set-up (a pool's new connection) and first-use script loads: not per peer."""


def _label(line: str) -> str | None:
    """What a command is for, or None for the node's periodic work and connection set-up."""
    command = line.split(" ")
    name = command[0].upper()
    if name in CONNECTION or name in ("BZPOPMIN", "BRPOP", "MULTI", "EXEC"):
        return None
    if name == "EVAL" and "backed_up" in line:  # the layer's blocking receive
        return None
    if name == "EVALSHA":
        label = SCRIPTS.get(command[1], f"script {command[1][:8]}")
        return None if label.startswith("heartbeat.") else label
    keys = command[1:2]
    if keys and (":cluster:node:" in keys[0] or keys[0].endswith(":cluster:nodes")):
        return None  # the heartbeat's record, index and the other nodes' records
    return name


class Monitor:
    """Every command Redis receives, from a thread, split at this test's ``ECHO`` marks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.commands: list[str] = []
        self._stop = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._client = redis.Redis.from_url(url, decode_responses=True)

    def start(self) -> Monitor:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url)
        with client.monitor() as monitor:
            self._ready.set()
            while not self._stop:
                found = monitor.next_command()
                if found.get("client_type") == "lua":
                    continue
                self.commands.append(str(found["command"]))
        client.close()

    async def mark(self, name: str, settle: float = 1.0, quiet: float = 0.7) -> None:
        """Wait for the server to finish what the last step started (``settle`` seconds, then
        until no counted command came for ``quiet`` seconds, 15 s at most: a loaded machine
        may write the presence late), then mark a phase."""
        await asyncio.sleep(settle)
        deadline = time.monotonic() + 15
        seen = self._counted()
        while time.monotonic() < deadline:
            await asyncio.sleep(quiet)
            now = self._counted()
            if now == seen:
                break
            seen = now
        self._client.echo(f"phase:{name}")

    def _counted(self) -> int:
        return sum(1 for line in list(self.commands) if _label(line) is not None)

    def phases(self) -> dict[str, Counter[str]]:
        """Phase name → the labelled commands sent before its mark (after the previous)."""
        out: dict[str, Counter[str]] = {}
        current: Counter[str] = Counter()
        for command in list(self.commands):
            if command.startswith("ECHO phase:"):
                out[command[len("ECHO phase:"):]] = current
                current = Counter()
                continue
            label = _label(command)
            if label is not None:
                current[label] += 1
        return out

    def close(self) -> None:
        self._stop = True
        self._client.ping()  # wakes the monitor up to see it
        self._thread.join(5)
        self._client.close()


@pytest.fixture
def live() -> Iterator[tuple[LiveDaphne, PrivateRedis, dict[str, Any]]]:
    """daphne (one worker, SQLite) on a private redis-server, a 60 s lease (a heartbeat
    every 15 s, left out of the counts anyway), no reconnect grace (a leave is at once);
    users and two meetings of alice's with bob, carol and dave invited."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    server_redis = PrivateRedis().start()
    server = LiveDaphne(redis_url=server_redis.url, prefix="conference-trips-",
                        env={"CLUSTER_LEASE_SECONDS": "60",
                                                  "RTC_RECONNECT_GRACE_SECONDS": "0"})
    try:
        server.start()
        tokens = server.shell(SEED)
        meetings = [str(server.shell(MEETING.format(title=t, invite=["bob", "carol", "dave"])))
                    for t in ("counted", "warm-up")]
        yield server, server_redis, {"tokens": tokens, "meetings": meetings}
    finally:
        server.cleanup()
        server_redis.close()


async def _set_up(server: LiveDaphne, meeting: str, token: str,
                  other: str | None = None) -> tuple[SignalingClient, str]:
    """A browser's call set-up: join, two transports, connect, produce (and consume
    ``other``'s producer); the socket and its producer's id."""
    client = SignalingClient(server.ws_url(meeting, token), origin=server.origin, name="trips")
    await client.connect()
    joined = await client.request("rtc:join", {"displayName": "trips"})
    send = await client.request("rtc:createTransport", {"direction": "send"})
    recv = await client.request("rtc:createTransport", {"direction": "recv"})
    await client.request("rtc:connectTransport", {"transportId": send["id"],
                                                  "dtlsParameters": DTLS_PARAMETERS})
    produced = await client.request("rtc:produce", {
        "transportId": send["id"], "kind": "audio", "rtpParameters": opus_parameters(),
        "appData": {"source": "mic"}})
    if other is not None:
        consumer = await client.request("rtc:consume", {
            "transportId": recv["id"], "producerId": other,
            "rtpCapabilities": joined["routerRtpCapabilities"]})
        await client.request("rtc:connectTransport", {"transportId": recv["id"],
                                                      "dtlsParameters": DTLS_PARAMETERS})
        await client.request("rtc:resumeConsumer", {"consumerId": consumer["id"]})
    return client, produced["id"]


def _lookups_apart(counts: Counter[str]) -> tuple[Counter[str], int]:
    """A phase's commands without its group lookups, and how many lookups it made."""
    rest = Counter(counts)
    return rest, rest.pop("group.send", 0)


async def test_redis_commands_per_join_and_leave(
        live: tuple[LiveDaphne, PrivateRedis, dict[str, Any]]) -> None:
    """A meeting's first peer (not its host: a host's socket also joins the meeting's hosts
    group) sets up its call in at most 10 Redis commands (its claim included), a
    second peer (who also consumes the first) in at most 6: its socket count, its group, its
    presence and the lookups of the group events of its join (participant joined,
    rtc:peerJoined, rtc:newProducer), no placement round trip; a leave at most 5. Before session
    6: 13, 10 and 5. Since session 12 a commit's meeting events go out as one run, whose
    lookups can share one with the call's events (the first join took 9 or 10)."""
    server, server_redis, data = live
    tokens, (meeting, warm_meeting) = data["tokens"], data["meetings"]
    monitor = Monitor(server_redis.url).start()
    try:
        warm, _ = await _set_up(server, warm_meeting, tokens["dave"])  # scripts loaded
        await warm.close()
        await monitor.mark("warm-up")
        first, produced = await _set_up(server, meeting, tokens["bob"])
        await monitor.mark("first join")
        second, _ = await _set_up(server, meeting, tokens["carol"], other=produced)
        await monitor.mark("second join")
        await second.close()
        await monitor.mark("second leaves")
        await first.close()
        await monitor.mark("last leaves")
    finally:
        monitor.close()
    phases = monitor.phases()
    report = {name: dict(counts) for name, counts in phases.items()}
    # A join's events look up the group's other processes (``group.send``); events sent while
    # a lookup is out share the next one, so timing can merge two lookups, never add one.
    first_join, lookups = _lookups_apart(phases["first join"])
    assert first_join == Counter({"sockets.acquire": 1, "group.add": 1, "presence.write": 1,
                                  "placement.claim": 1, "GETDEL": 1}), report  # GETDEL: recordings
    assert 1 <= lookups <= 5, report
    second_join, lookups = _lookups_apart(phases["second join"])
    assert second_join == Counter({"sockets.acquire": 1, "group.add": 1,
                                   "presence.write": 1}), report
    assert 1 <= lookups <= 3, report
    for leave in ("second leaves", "last leaves"):
        commands, lookups = _lookups_apart(phases[leave])
        assert commands == Counter({"sockets.release": 1, "group.discard": 1,
                                    "presence.write": 1}), report
        assert 1 <= lookups <= 2, report
    with redis.Redis.from_url(server_redis.url, decode_responses=True) as client:
        assert not list(client.scan_iter("*:group:*"))  # every membership gone
        assert not [k for k in client.scan_iter("*:presence:*") if client.scard(k)]
