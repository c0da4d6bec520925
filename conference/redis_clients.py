"""Redis clients of the project other than the channel layer's, with pools that wait.

redis-py's default pool refuses a command when all its connections are in use
(``MaxConnectionsError``); under a burst of sockets that failed whole connects. Every Redis
client the project makes comes from :func:`redis_client`, whose pool waits up to
``REDIS_POOL_TIMEOUT`` seconds for one of its ``REDIS_MAX_CONNECTIONS`` connections, as the
channel layer's (`conference.channel_layers.RedisChannelLayer`) does.

A pool opens its connections when commands first need them. At the top of the hour that is
the first burst after a start: each of a few dozen commands in flight at once then paid a TCP
connect and a ``HELLO`` round trip before its own, on an event loop saturated by the burst, and
the meetings' placements, group adds and socket counts came a loop turn or two later.
:func:`open_ahead` opens ``REDIS_CONNECTIONS_AHEAD`` of them when the server starts
(`rtc.lifecycle.startup`), where a running server keeps them from its earlier bursts anyway
(bench/README.md, "Session 17").
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from redis import asyncio as aioredis

__all__ = ["open_ahead", "redis_client"]


def redis_client(url: str, **options: Any) -> aioredis.Redis:
    """An asyncio Redis client on ``url`` with a waiting pool sized by the settings;
    ``options`` go to the connections (e.g. ``socket_timeout``)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=int(getattr(settings, "REDIS_MAX_CONNECTIONS", 50)),
        timeout=float(getattr(settings, "REDIS_POOL_TIMEOUT", 10)), **options)
    return aioredis.Redis(connection_pool=pool)


async def open_ahead(client: aioredis.Redis, count: int) -> int:
    """Have at least ``count`` connections of ``client``'s pool open and idle (at most its
    ``max_connections``); how many were taken and given back open. Connections it already had
    count; one that fails to open is not kept, and the first failure is raised when none
    opened. Every connection taken is given back to the pool, also when the caller gives up
    waiting (a cancellation)."""
    pool = client.connection_pool
    count = min(count, pool.max_connections)
    if count <= 0:
        return 0
    held: list[Any] = []

    async def take() -> None:
        held.append(await pool.get_connection())

    try:
        results = await asyncio.gather(*(take() for _ in range(count)), return_exceptions=True)
    finally:
        for connection in held:
            await pool.release(connection)
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures and not held:
        raise failures[0]
    return len(held)
