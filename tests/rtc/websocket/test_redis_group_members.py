"""`RedisChannelLayer.group_send`'s one round trip (a script that sweeps the group's expired
members and returns only other processes' members): each remote member gets the message
once, expired members are dropped from the group, and a name that merely contains this
process's prefix is still remote."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest
from redis import asyncio as aioredis

from bench._services import PrivateRedis
from conference.channel_layers import RedisChannelLayer

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


async def test_group_send_reaches_remote_members_once_and_sweeps_expired_ones():
    """A group with this process's member, another process's member, a plain (non-process)
    channel, a channel of another process whose own part contains this process's prefix, and
    an expired member: the message reaches each live member once, the expired one is gone."""
    prefix = f"conference-test-members-{uuid.uuid4().hex[:10]}"
    here = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4)
    there = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4)
    client = aioredis.from_url(REDIS_URL)
    try:
        mine, theirs = await here.new_channel(), await there.new_channel()
        lookalike = f"specific.{there.client_prefix}!{here.client_prefix}"
        plain = "plain-channel"
        for layer, channel in ((here, mine), (there, theirs), (there, lookalike),
                               (there, plain)):
            await layer.group_add("meeting.g", channel)
        key = f"{prefix}:group:meeting.g"
        await client.zadd(key, {"gone-channel": time.time() - here.group_expiry - 10})

        await here.group_send("meeting.g", {"type": "meeting.event", "n": 1})

        assert (await asyncio.wait_for(here.receive(mine), 5))["n"] == 1
        for channel in (theirs, lookalike, plain):
            assert (await asyncio.wait_for(there.receive(channel), 5))["n"] == 1
        members = {m.decode() for m in await client.zrange(key, 0, -1)}
        assert members == {mine, theirs, lookalike, plain}
        for layer, channel in ((here, mine), (there, theirs), (there, plain)):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(layer.receive(channel), 0.3)
    finally:
        await client.aclose()
        await here.flush()
        await there.flush()


async def test_a_redis_that_forgot_the_script_gets_it_again():
    """After ``SCRIPT FLUSH`` (as after a restart; a private redis-server, the shared one's
    scripts are not ours to flush), the next group send loads the script again and still
    reaches the other process's member."""
    redis = PrivateRedis().start()
    prefix = f"conference-test-flush-{uuid.uuid4().hex[:10]}"
    here = RedisChannelLayer(hosts=[redis.url], prefix=prefix, max_connections=4)
    there = RedisChannelLayer(hosts=[redis.url], prefix=prefix, max_connections=4)
    client = aioredis.from_url(redis.url)
    try:
        theirs = await there.new_channel()
        await there.group_add("meeting.g", theirs)
        await here.group_send("meeting.g", {"type": "meeting.event", "n": 1})
        await client.script_flush()
        await here.group_send("meeting.g", {"type": "meeting.event", "n": 2})
        got = [(await asyncio.wait_for(there.receive(theirs), 5))["n"] for _ in range(2)]
        assert got == [1, 2]
    finally:
        await client.aclose()
        await here.flush()
        await there.flush()
        redis.close()


async def test_group_adds_asked_together_go_to_redis_together():
    """Thirty sockets of three meetings subscribing at once: every channel is a member of its
    own group in Redis (and a local member here), in far fewer script calls than adds; with
    Redis gone, every add of the batch fails (each socket is refused), none hangs."""
    redis = PrivateRedis().start()
    prefix = f"conference-test-adds-{uuid.uuid4().hex[:10]}"
    layer = RedisChannelLayer(hosts=[redis.url], prefix=prefix, max_connections=4)
    client = aioredis.from_url(redis.url)
    try:
        channels = [await layer.new_channel() for _ in range(30)]
        groups = [f"meeting.g{i % 3}" for i in range(30)]
        calls = (await client.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
        await asyncio.gather(*(layer.group_add(g, c) for g, c in zip(groups, channels,
                                                                       strict=True)))
        stats = await client.info("commandstats")
        used = stats.get("cmdstat_evalsha", {}).get("calls", 0) - calls
        used += stats.get("cmdstat_eval", {}).get("calls", 0)
        assert 1 <= used <= 3, used  # the first alone, the rest together (+ a script load)
        for index in range(3):
            members = {m.decode() for m in await client.zrange(f"{prefix}:group:meeting.g{index}",
                                                               0, -1)}
            assert members == {c for c, g in zip(channels, groups, strict=True)
                               if g == f"meeting.g{index}"}
            assert layer.local_members(f"meeting.g{index}") == members
        redis.stop()
        outcomes = await asyncio.wait_for(asyncio.gather(
            *(layer.group_add("meeting.late", c) for c in channels[:5]),
            return_exceptions=True), 30)
        assert all(isinstance(o, Exception) for o in outcomes), outcomes
        assert layer.local_members("meeting.late") == frozenset()
    finally:
        await client.aclose()
        redis.close()


async def test_group_send_soon_delivers_here_at_once_and_elsewhere_in_order():
    """``group_send_soon``: this process's member has the message when the call returns; the
    other process's members get every message, in the order sent, across two groups; with
    Redis gone the local member still gets its message and nothing is raised."""
    redis = PrivateRedis().start()
    prefix = f"conference-test-soon-{uuid.uuid4().hex[:10]}"
    here = RedisChannelLayer(hosts=[redis.url], prefix=prefix, max_connections=4)
    there = RedisChannelLayer(hosts=[redis.url], prefix=prefix, max_connections=4)
    try:
        mine, theirs, other = (await here.new_channel(), await there.new_channel(),
                               await there.new_channel())
        await here.group_add("meeting.a", mine)
        await there.group_add("meeting.a", theirs)
        await there.group_add("meeting.b", other)
        for n in range(6):
            await here.group_send_soon("meeting.a" if n % 2 == 0 else "meeting.b",
                                       {"type": "meeting.event", "n": n})
            if n % 2 == 0:  # already in this process's inbox
                assert here._inboxes[mine].get_nowait()["n"] == n
        got_a = [(await asyncio.wait_for(there.receive(theirs), 5))["n"] for _ in range(3)]
        got_b = [(await asyncio.wait_for(there.receive(other), 5))["n"] for _ in range(3)]
        assert got_a == [0, 2, 4]
        assert got_b == [1, 3, 5]
        redis.stop()
        await here.group_send_soon("meeting.a", {"type": "meeting.event", "n": 9})
        assert here._inboxes[mine].get_nowait()["n"] == 9
        await asyncio.sleep(0.2)  # its remote part fails in the background, logged
    finally:
        redis.close()


async def test_the_excluded_sender_gets_no_copy_and_the_others_do():
    """A group message naming an ``exclude`` channel (the sender's socket) is not queued for
    that channel of this process; this process's other member and another process's member
    get it."""
    prefix = f"conference-test-exclude-{uuid.uuid4().hex[:10]}"
    here = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4)
    there = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4)
    try:
        sender, neighbour, theirs = (await here.new_channel(), await here.new_channel(),
                                     await there.new_channel())
        for layer, channel in ((here, sender), (here, neighbour), (there, theirs)):
            await layer.group_add("meeting.x", channel)
        await here.group_send("meeting.x", {"type": "meeting.event", "n": 1,
                                            "exclude": sender})
        assert (await asyncio.wait_for(here.receive(neighbour), 5))["n"] == 1
        assert (await asyncio.wait_for(there.receive(theirs), 5))["n"] == 1
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(here.receive(sender), 0.3)
    finally:
        await here.flush()
        await there.flush()
