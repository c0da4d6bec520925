"""The Redis pools' connections opened when the server starts (`conference.redis_clients
.open_ahead`, `rtc.lifecycle.startup.open_redis_connections`), on a real Redis: the
connections are counted by Redis itself (``CLIENT LIST``, by a client name of the test's own).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from channels.layers import channel_layers
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bots.live_daphne import free_port
from conference.redis_clients import open_ahead, redis_client
from rtc.lifecycle.startup import open_redis_connections
from tests.support.waiting import eventually

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
async def probe() -> AsyncIterator[aioredis.Redis]:
    """A client of its own that reads Redis's list of connections."""
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def _connections_named(probe: aioredis.Redis, name: str) -> int:
    return sum(1 for entry in await probe.client_list() if entry.get("name") == name)


async def test_open_ahead_opens_the_connections_that_commands_then_use(settings, probe):
    """Five connections open before any command; five commands at once use them (Redis sees
    no sixth), and asking again opens none: the pool keeps what it had."""
    settings.REDIS_MAX_CONNECTIONS = 8
    name = f"ahead-{uuid.uuid4().hex[:8]}"
    client = redis_client(REDIS_URL, client_name=name)
    try:
        assert await _connections_named(probe, name) == 0
        assert await open_ahead(client, 5) == 5
        assert await _connections_named(probe, name) == 5
        await asyncio.gather(*(client.ping() for _ in range(5)))
        assert await _connections_named(probe, name) == 5
        assert await open_ahead(client, 3) == 3
        assert await _connections_named(probe, name) == 5
    finally:
        await client.aclose()


async def test_open_ahead_stops_at_the_pools_size(settings, probe):
    """Asking for more than the pool may hold opens the pool's maximum, without waiting for
    a connection that never comes back; zero opens nothing."""
    settings.REDIS_MAX_CONNECTIONS = 4
    name = f"ahead-{uuid.uuid4().hex[:8]}"
    client = redis_client(REDIS_URL, client_name=name)
    try:
        assert await open_ahead(client, 0) == 0
        assert await _connections_named(probe, name) == 0
        assert await asyncio.wait_for(open_ahead(client, 50), timeout=10) == 4
        assert await _connections_named(probe, name) == 4
    finally:
        await client.aclose()


async def test_open_ahead_raises_when_redis_cannot_be_reached(settings):
    """No connection could open: the connection error is raised, not a count of zero."""
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=2)
    try:
        with pytest.raises(RedisConnectionError):
            await open_ahead(client, 3)
    finally:
        await client.aclose()


@pytest.fixture
def redis_layer_named(settings):
    """The project's Redis channel layer whose connections carry a client name of their own."""

    def configure(address: str, name: str) -> None:
        settings.CHANNEL_LAYERS = {"default": {
            "BACKEND": "conference.channel_layers.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": address, "client_name": name,
                                  "socket_connect_timeout": 2}],
                       "prefix": f"conference-test-ahead-{uuid.uuid4().hex[:8]}",
                       "max_connections": 6},
        }}
        channel_layers.backends.clear()

    yield configure
    channel_layers.backends.clear()


async def test_the_server_start_opens_the_channel_layers_connections(settings, probe,
                                                                     redis_layer_named):
    """At start-up the channel layer's pool for the serving loop gets its connections (at most
    its own ``max_connections``), which the layer's commands then use."""
    from channels.layers import get_channel_layer

    name = f"ahead-{uuid.uuid4().hex[:8]}"
    redis_layer_named(REDIS_URL, name)
    settings.REDIS_CONNECTIONS_AHEAD = 10
    assert await open_redis_connections() == 6
    assert await _connections_named(probe, name) == 6
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_add("ahead-group", layer_channel)
                           for layer_channel in [await layer.new_channel() for _ in range(4)]))
    assert await _connections_named(probe, name) == 6
    await layer.flush()


async def test_the_server_start_without_redis_is_logged_and_goes_on(settings, caplog,
                                                                    redis_layer_named):
    """A Redis that cannot be reached at start-up is a warning, not a failed start: nothing is
    open ahead and commands open connections when Redis is back."""
    redis_layer_named(f"redis://127.0.0.1:{free_port()}/0", "ahead-unreachable")
    settings.REDIS_CONNECTIONS_AHEAD = 4
    with caplog.at_level(logging.WARNING, logger="rtc.lifecycle.startup"):
        assert await open_redis_connections() == 0
    assert "Redis connections not opened ahead" in caplog.text


async def test_nothing_is_opened_ahead_on_the_in_memory_layer_or_when_turned_off(
        settings, probe, redis_layer_named):
    """The embedded default has no Redis; ``REDIS_CONNECTIONS_AHEAD = 0`` opens nothing."""
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "conference.channel_layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    assert await open_redis_connections() == 0
    name = f"ahead-{uuid.uuid4().hex[:8]}"
    redis_layer_named(REDIS_URL, name)
    settings.REDIS_CONNECTIONS_AHEAD = 0
    assert await open_redis_connections() == 0
    assert await _connections_named(probe, name) == 0


async def test_a_start_that_gives_up_waiting_gives_every_connection_back(settings, probe):
    """The caller's timeout cancels the opening half-way: what was opened is back in the pool
    (the pool's full size is still there for commands), nothing is held for ever."""
    settings.REDIS_MAX_CONNECTIONS = 3
    name = f"ahead-{uuid.uuid4().hex[:8]}"
    client = redis_client(REDIS_URL, client_name=name)
    pool = client.connection_pool
    real_get = pool.get_connection
    calls = 0

    async def slow_third(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 3:
            await asyncio.sleep(30)
        return await real_get(*args, **kwargs)

    pool.get_connection = slow_third
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1):
                await open_ahead(client, 3)
        pool.get_connection = real_get
        assert await _connections_named(probe, name) == 2
        # Two commands hold a connection each (blocked in Redis for 4 s, under the client's 5 s
        # read timeout): a third still gets one at once, which only a pool that got its two
        # opened connections back can give.
        blocked = [asyncio.ensure_future(client.blpop([f"{name}-nothing"], timeout=4))
                   for _ in range(2)]
        await eventually(lambda: _blocked_in_redis(probe, name, 2), timeout=5,
                         what="two commands blocked in Redis")
        assert await asyncio.wait_for(client.ping(), timeout=2)
        assert await _connections_named(probe, name) == 3
        assert await asyncio.gather(*blocked) == [None, None]
    finally:
        await client.aclose()


async def _blocked_in_redis(probe: aioredis.Redis, name: str, count: int) -> bool:
    entries = await probe.client_list()
    return sum(1 for e in entries if e.get("name") == name and e.get("cmd") == "blpop") >= count
