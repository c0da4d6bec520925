"""Fixtures for the cluster tests: live daphne nodes on PostgreSQL and Redis.

The nodes (:class:`bots.live_cluster.LiveCluster`) share a fresh PostgreSQL database and Redis
(``CLUSTER_TEST_REDIS_URL``, default the machine's Redis, database 6) under a key prefix of
their own, so these tests run the same in CI's first pass (no Redis configured for the suite)
and in its second. Users ``alice``, ``bob``, ``carol``, ``dave`` (API tokens) are seeded;
:meth:`Cluster.meeting` makes a meeting hosted by alice with the others invited.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from mediasoup_ctl import worker_bin_path

from bots.live_cluster import LiveCluster
from bots.peer import Bot
from bots.signaling import SignalingClient
from tests.support.waiting import eventually

REDIS_URL = os.environ.get("CLUSTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/6")
USERS = ("alice", "bob", "carol", "dave", "erin")

SEED = f"""
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
User = get_user_model()
tokens = {{}}
for name in {USERS!r}:
    user = User.objects.create_user(name, password="pw-" + name, is_staff=(name == "dave"))
    tokens[name] = Token.objects.create(user=user).key
print(json.dumps(tokens))
"""

MEETING = """
import json
from django.contrib.auth import get_user_model
from meetings import services
User = get_user_model()
alice = User.objects.get(username="alice")
meeting = services.meeting_create(host=alice, title={title!r}, capacity=50)
for name in {invite!r}:
    services.participant_invite(meeting=meeting, actor=alice, username=name)
print(json.dumps(str(meeting.id)))
"""

ATTENDANCE = """
import json
from meetings.models import Participant
rows = Participant.objects.filter(meeting_id={meeting!r}).select_related("user")
print(json.dumps({{p.user.username: {{"joined": p.joined_at is not None,
                                     "present": p.joined_at is not None and p.left_at is None}}
                  for p in rows}}))
"""


@dataclass
class Cluster:
    """A running cluster and its seeded users."""

    live: LiveCluster
    tokens: dict[str, str]
    bots: list[Bot] = field(default_factory=list)

    @property
    def redis(self) -> redis.Redis:
        """A client of the cluster's Redis."""
        return redis.Redis.from_url(REDIS_URL, decode_responses=True)

    def key(self, name: str) -> str:
        """A cluster key of this run (``owner:<meeting>``, ``node:<id>``...)."""
        return f"{self.live.key_prefix}:cluster:{name}"

    def owner(self, meeting: str) -> str | None:
        """The node id owning the meeting's call now."""
        with self.redis as client:
            return client.get(self.key(f"owner:{meeting}"))

    def node_ids(self) -> list[str]:
        """The live nodes' ids."""
        with self.redis as client:
            return sorted(k.rsplit(":", 1)[1] for k in client.scan_iter(self.key("node:*")))

    def meeting(self, title: str, invite: tuple[str, ...] = USERS[1:]) -> str:
        """A meeting hosted by alice with ``invite`` invited; its id."""
        return str(self.live.shell(MEETING.format(title=title, invite=list(invite))))

    def attendance(self, meeting: str) -> dict[str, dict[str, bool]]:
        """username → joined/present in the meeting, from the database."""
        return self.live.shell(ATTENDANCE.format(meeting=meeting))

    def url(self, node: int, meeting: str, user: str) -> str:
        """The meeting socket of ``user`` on node ``node``."""
        return self.live.nodes[node].ws_url(meeting, self.tokens[user])

    def origin(self, node: int) -> str:
        """An Origin header node ``node`` accepts."""
        return self.live.nodes[node].origin

    async def bot(self, node: int, meeting: str, user: str, **options: Any) -> Bot:
        """A connected (not yet joined) bot of ``user`` on node ``node``."""
        bot = Bot(self.url(node, meeting, user), origin=self.origin(node), name=user, **options)
        self.bots.append(bot)
        await bot.connect()
        return bot

    async def client(self, node: int, meeting: str, user: str) -> SignalingClient:
        """A connected signaling-only socket of ``user`` on node ``node``."""
        client = SignalingClient(self.url(node, meeting, user), origin=self.origin(node),
                                 name=user)
        await client.connect()
        return client

    async def close_bots(self) -> None:
        """Close every bot made so far."""
        bots, self.bots = self.bots, []
        await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)

    def calls(self) -> dict[str, int]:
        """node id → the calls its record says it holds now."""
        with self.redis as client:
            return {node: int(client.hget(self.key(f"node:{node}"), "rooms") or 0)
                    for node in self.node_ids()}

    async def settle(self, timeout: float = 30.0) -> None:
        """Back to a quiet cluster whatever the last test left: every bot closed, every
        stopped node started again, no call held anywhere. A module's tests share one
        cluster, so one failed test must not fail the next ones with its leftovers (a call
        still held skews where the next call goes)."""
        await self.close_bots()
        for node in self.live.nodes:
            if node.process is None or node.process.poll() is not None:
                await asyncio.to_thread(node.start, migrate=False)

        def quiet() -> bool:
            calls = self.calls()
            return len(calls) == len(self.live.nodes) and not any(calls.values())

        await eventually(quiet, timeout=timeout, what="a quiet cluster")


def make_cluster(size: int, **options: Any) -> Iterator[Cluster]:
    """Start ``size`` nodes, seed the users, yield; every node must exit with 0 (a drained or
    killed node is let off)."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    live = LiveCluster(size, redis_url=REDIS_URL, **options)
    try:
        live.start()
        yield Cluster(live, live.shell(SEED))
    finally:
        keep = os.environ.get("CLUSTER_TEST_LOGS")  # a folder to keep the nodes' logs in
        if keep:
            os.makedirs(keep, exist_ok=True)
            for i, node in enumerate(live.nodes):
                with open(os.path.join(keep, f"{live.name}-node{i}.log"), "w") as out:
                    out.write(node.log())
        codes = live.cleanup()
        assert all(code in (0, -9, None) for code in codes), f"exit codes {codes}"


async def wait_for(check: Callable[[], Any], *, timeout: float = 20.0, what: str = "") -> float:
    """Poll ``check`` until true; the seconds it took."""
    started = time.monotonic()
    await eventually(check, timeout=timeout, what=what)
    return time.monotonic() - started


def record_replies(bot: Bot) -> list[tuple[str, Any]]:
    """From now on, every (request type, reply data) of the bot, in order."""
    replies: list[tuple[str, Any]] = []
    request = bot.request

    async def recording(message_type: str, data: dict[str, Any]) -> Any:
        reply = await request(message_type, data)
        replies.append((message_type, reply))
        return reply

    bot.request = recording  # type: ignore[method-assign]
    return replies


def candidate_addresses(replies: list[tuple[str, Any]]) -> set[str]:
    """The addresses of the ICE candidates in the recorded ``rtc:createTransport`` replies."""
    return {c.get("address") or c.get("ip") for kind, reply in replies
            if kind == "rtc:createTransport" for c in reply["iceCandidates"]}
