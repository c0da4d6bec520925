"""The meeting socket on Redis under a burst, and when Redis fails.

Every test here runs on a real Redis (``REDIS_URL``, else the CI machine's
``redis://127.0.0.1:6379/0``) with its own key prefix, through the project's
``conference.channel_layers.RedisChannelLayer``, whatever layer the run is configured with.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.authtoken.models import Token

from bench._services import PrivateRedis
from bots.live_daphne import free_port
from conference import channel_layers as channel_layers_module
from conference.channel_layers import RedisChannelLayer
from meetings import events, services
from meetings.models import Meeting, Participant
from rtc.policy.attendance import attendance
from rtc.websocket.envelope import CloseCode
from rtc.websocket.limits import open_sockets
from tests.support.declared import declare_event
from tests.support.layers import overflowed
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
BURST = 200
PER_MEETING = 10
POOL = 4
"""Connections per event loop: far fewer than the sockets, so commands must wait for one."""
ORIGIN = b"http://localhost"


def _layer_config(hosts: list[str], **extra: Any) -> dict[str, Any]:
    return {"default": {
        "BACKEND": "conference.channel_layers.RedisChannelLayer",
        "CONFIG": {"hosts": hosts, "prefix": f"conference-test-burst-{uuid.uuid4().hex[:10]}",
                   **extra},
    }}


@pytest.fixture
def redis_layer(settings) -> Iterator[RedisChannelLayer]:
    """The project's Redis layer with a pool of ``POOL`` connections, flushed afterwards."""
    settings.CHANNEL_LAYERS = _layer_config([REDIS_URL], max_connections=POOL, pool_timeout=20)
    channel_layers.backends.clear()
    layer = get_channel_layer()
    yield layer
    async_to_sync(layer.flush)()
    channel_layers.backends.clear()


def _burst_users(count: int, per_meeting: int) -> tuple[list[Meeting], list[tuple[Any, str]]]:
    """Invited-only meetings of ``per_meeting`` invited users each, every user with their own
    token: the meetings and, for each user, (their meeting's id, their token)."""
    user_model = get_user_model()
    host = user_model.objects.create_user(username="burst-host")
    meetings = [services.meeting_create(host=host, title=f"On the hour {i}",
                                        capacity=per_meeting + 1)
                for i in range(count // per_meeting)]
    users = user_model.objects.bulk_create(
        [user_model(username=f"burst-{i:04d}") for i in range(count)])
    placed = [(meetings[i // per_meeting], u) for i, u in enumerate(users)]
    Participant.objects.bulk_create(
        [Participant(meeting=m, user=u, role=Participant.Role.MEMBER) for m, u in placed])
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    return meetings, [(m.id, t.key) for (m, _), t in zip(placed, tokens, strict=True)]


async def _open(meeting_id: Any, token: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    from conference.asgi import application

    ws = WebsocketCommunicator(application, f"/ws/meetings/{meeting_id}/?token={token}",
                               headers=[(b"host", b"localhost"), (b"origin", ORIGIN)])
    connected, _ = await ws.connect(timeout=120)
    assert connected
    output = await ws.receive_output(timeout=120)
    if output["type"] == "websocket.send":
        return ws, json.loads(output["text"])
    return ws, output


async def _drain(ws: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every event of a socket until a ``meeting.note`` has come and 0.5 s passed quietly."""
    log: list[dict[str, Any]] = []
    while True:
        seen = any(e["type"] == "meeting.note" for e in log)
        if seen and await ws.receive_nothing(timeout=0.5):
            return log
        log.append(await ws.receive_json_from(timeout=30))


async def test_a_burst_of_sockets_all_join_on_a_small_redis_pool(redis_layer, monkeypatch):
    """200 distinct users, each invited to one of 20 meetings of 10, open their sockets at
    once over a pool of 4 Redis connections: every one is accepted and gets
    ``meeting.state`` (commands waited for a connection instead of failing with "Too many
    connections" and a 1011), all 200 are present, a meeting event reaches each exactly once
    (and no event arrives twice), and after they close the groups in Redis and the presence
    table are empty and every leave is written."""
    declare_event(monkeypatch, "meeting.note", n=int)
    meetings, seats = await database_sync_to_async(_burst_users)(BURST, PER_MEETING)
    results = await asyncio.gather(*(_open(meeting_id, token) for meeting_id, token in seats))
    sockets = [ws for ws, _ in results]
    groups = [events.meeting_group_name(m.id) for m in meetings]
    try:
        firsts = [first for _, first in results]
        assert [f.get("type") for f in firsts] == ["meeting.state"] * BURST, [
            f for f in firsts if f.get("type") != "meeting.state"][:3]
        present = await Participant.objects.filter(
            joined_at__isnull=False, left_at__isnull=True).acount()
        assert present == BURST
        assert [len(redis_layer.local_members(g)) for g in groups] == [PER_MEETING] * len(groups)

        for group in groups:
            await redis_layer.group_send(group, events.group_message("meeting.note", {"n": 1}))
        received = await asyncio.gather(*(_drain(ws) for ws in sockets))
        for log in received:
            assert [e["type"] for e in log].count("meeting.note") == 1
            joined = [e["data"]["userId"] for e in log if e["type"] == events.PARTICIPANT_JOINED]
            assert len(joined) == len(set(joined)), "an event was delivered twice"
    finally:
        await asyncio.gather(*(ws.disconnect(timeout=60) for ws in sockets))
    connection = aioredis.Redis.from_url(REDIS_URL)
    try:
        for group in groups:
            assert await connection.zcard(redis_layer._group_key(group)) == 0
    finally:
        await connection.aclose()
    assert not any(redis_layer.local_members(g) for g in groups)
    assert open_sockets.counts().total == 0
    assert len(attendance) == 0
    left = await Participant.objects.filter(left_at__isnull=False).acount()
    assert left == BURST


async def test_unreachable_redis_refuses_the_socket_with_a_retry_hint(settings, member_user,
                                                                      meeting):
    """The channel layer's Redis does not answer: the socket is refused explicitly (an
    ``error`` event ``server_busy`` with ``retryAfter``, then close 4529), nothing is left
    counted or present, and nothing was written."""
    settings.CHANNEL_LAYERS = _layer_config([f"redis://127.0.0.1:{free_port()}/0"],
                                            pool_timeout=1)
    channel_layers.backends.clear()
    token, _ = await Token.objects.aget_or_create(user=member_user)
    ws, first = await _open(meeting.id, token.key)
    try:
        assert first["type"] == "error", first
        assert first["data"]["code"] == "server_busy"
        assert 1 <= first["data"]["retryAfter"] <= 4
        closed = await ws.receive_output(timeout=5)
        assert (closed["type"], closed["code"]) == ("websocket.close", CloseCode.BUSY)
    finally:
        await ws.disconnect()
        channel_layers.backends.clear()
    assert open_sockets.counts().total == 0
    assert not attendance.present(meeting.id, member_user.pk)
    row = await Participant.objects.aget(meeting=meeting, user=member_user)
    assert row.joined_at is None


async def test_group_messages_reach_local_members_in_process_and_others_through_redis():
    """Two layer instances on one Redis prefix stand for two server processes. A group
    message reaches the sender's own member once (delivered in process) and the other
    process's member once (through Redis), and the same the other way round; a channel
    discarded from the group gets nothing more; a send to a local member arrives too."""
    prefix = f"conference-test-local-{uuid.uuid4().hex[:10]}"
    here = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=POOL)
    there = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=POOL)
    try:
        mine, theirs = await here.new_channel(), await there.new_channel()
        await here.group_add("meeting.g", mine)
        await there.group_add("meeting.g", theirs)
        assert here.local_members("meeting.g") == {mine}

        await here.group_send("meeting.g", {"type": "meeting.event", "n": 1})
        assert (await asyncio.wait_for(here.receive(mine), 5))["n"] == 1
        assert (await asyncio.wait_for(there.receive(theirs), 5))["n"] == 1
        await there.group_send("meeting.g", {"type": "meeting.event", "n": 2})
        assert (await asyncio.wait_for(here.receive(mine), 5))["n"] == 2
        assert (await asyncio.wait_for(there.receive(theirs), 5))["n"] == 2
        for layer, channel in ((here, mine), (there, theirs)):
            with pytest.raises(TimeoutError):  # no second copy of either message
                await asyncio.wait_for(layer.receive(channel), 0.5)

        await here.send(mine, {"type": "meeting.event", "n": 3})
        assert (await asyncio.wait_for(here.receive(mine), 5))["n"] == 3
        await here.group_discard("meeting.g", mine)
        await there.group_send("meeting.g", {"type": "meeting.event", "n": 4})
        assert (await asyncio.wait_for(there.receive(theirs), 5))["n"] == 4
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(here.receive(mine), 0.5)
        assert not here.local_members("meeting.g")
    finally:
        await here.flush()
        await there.flush()


async def test_a_local_channel_that_lost_messages_is_told_after_the_ones_it_kept():
    """In process, a full channel loses its oldest messages (as channels-redis does); once
    it has room it gets one channel.missed with the count, after the newest messages."""
    from conference.channel_layers import MISSED

    layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=f"conference-test-missed-"
                              f"{uuid.uuid4().hex[:10]}", max_connections=POOL, capacity=5)
    try:
        _, received = await overflowed(layer, "meeting.g", "meeting.event")
        assert [m.get("n") for m in received[:5]] == [3, 4, 5, 6, 7]
        assert received[5] == {"type": MISSED, "count": 3}
        assert not layer._missed.counts
    finally:
        await layer.flush()


async def test_a_redis_restarted_empty_gets_this_process_members_back_into_their_groups():
    """A private redis-server dies and comes back empty: it has forgotten every group.
    The process whose member is receiving notices the failure in its pump and writes its
    memberships again, so the other process's group message reaches that member (without
    this the socket stays open and deaf); the members are listed in Redis once more."""
    redis = PrivateRedis().start()
    prefix = f"conference-test-restart-{uuid.uuid4().hex[:10]}"
    here = RedisChannelLayer(hosts=[redis.url], prefix=prefix, max_connections=POOL)
    there = RedisChannelLayer(hosts=[redis.url], prefix=prefix, max_connections=POOL)
    here.receive_retry_max = 0.2
    try:
        mine = await here.new_channel()
        await here.group_add("meeting.g", mine)
        receiving = asyncio.ensure_future(here.receive(mine))
        watcher = aioredis.from_url(redis.url)
        try:
            async def popping() -> bool:
                return any(c.get("cmd") == "bzpopmin" for c in await watcher.client_list())

            await eventually(popping, timeout=5, what="the pump blocked in its pop")
        finally:
            await watcher.aclose()
        await asyncio.to_thread(redis.restart, 0.5)
        client = aioredis.from_url(redis.url)
        try:
            await eventually(lambda: client.zcard(f"{prefix}:group:meeting.g"), timeout=15,
                             every=0.1, what="the membership written back")
        finally:
            await client.aclose()
        assert not receiving.done()
        await there.group_send("meeting.g", {"type": "meeting.event", "n": 5})
        assert (await asyncio.wait_for(receiving, 5))["n"] == 5
    finally:
        await here.flush()
        await there.flush()
        redis.close()


async def test_sockets_leaving_together_leave_their_groups_in_one_or_two_calls(monkeypatch):
    """Forty members of four groups discarded at once: their ``ZREM``s go to Redis as one or
    two script calls (the first may go alone), not forty, each group is empty in Redis
    afterwards and no local member is left; a Redis that does not answer fails each discard
    with its error (the caller logs it and goes on with the leave)."""
    prefix = f"conference-test-discard-{uuid.uuid4().hex[:10]}"
    layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=POOL)
    client = aioredis.from_url(REDIS_URL)
    calls: list[int] = []
    real = channel_layers_module._run_script

    async def counted(connection, sha, lua, keys, args):
        if sha == channel_layers_module._GROUP_DISCARD_SHA:
            calls.append(len(keys))
        return await real(connection, sha, lua, keys, args)

    monkeypatch.setattr(channel_layers_module, "_run_script", counted)
    try:
        pairs = [(f"meeting.g{n % 4}", await layer.new_channel()) for n in range(40)]
        for group, channel in pairs:
            await layer.group_add(group, channel)
        assert await client.zcard(f"{prefix}:group:meeting.g0") == 10
        await asyncio.gather(*(layer.group_discard(group, channel) for group, channel in pairs))
        assert 1 <= len(calls) <= 2 and sum(calls) == 40, calls
        for n in range(4):
            assert await client.zcard(f"{prefix}:group:meeting.g{n}") == 0
            assert layer.local_members(f"meeting.g{n}") == frozenset()
    finally:
        await client.aclose()
        await layer.flush()
    gone = RedisChannelLayer(hosts=[f"redis://127.0.0.1:{free_port()}/0"], prefix=prefix,
                             max_connections=POOL, pool_timeout=1)
    outcomes = await asyncio.gather(*(gone.group_discard("meeting.g", f"specific.x!{n}")
                                      for n in range(3)), return_exceptions=True)
    assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
