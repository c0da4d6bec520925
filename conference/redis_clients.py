"""Redis clients of the project other than the channel layer's, with pools that wait.

redis-py's default pool refuses a command when all its connections are in use
(``MaxConnectionsError``); under a burst of sockets that failed whole connects. Every Redis
client the project makes comes from :func:`redis_client`, whose pool waits up to
``REDIS_POOL_TIMEOUT`` seconds for one of its ``REDIS_MAX_CONNECTIONS`` connections, as the
channel layer's (`conference.channel_layers.RedisChannelLayer`) does.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from redis import asyncio as aioredis

__all__ = ["redis_client"]


def redis_client(url: str, **options: Any) -> aioredis.Redis:
    """An asyncio Redis client on ``url`` with a waiting pool sized by the settings;
    ``options`` go to the connections (e.g. ``socket_timeout``)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=int(getattr(settings, "REDIS_MAX_CONNECTIONS", 50)),
        timeout=float(getattr(settings, "REDIS_POOL_TIMEOUT", 10)), **options)
    return aioredis.Redis(connection_pool=pool)
