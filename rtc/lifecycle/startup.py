"""Start the worker pool when the server starts, not when the first call arrives.

Without this the first ``rtc:join`` (or ``/readyz``) of a fresh process pays for spawning the
workers (about 50 ms each) and a worker that cannot start (a missing binary, no free ports)
is only found then. Every server starts the process through :func:`start_pool`: servers with
the ASGI lifespan protocol at ``lifespan.startup`` (`conference.lifespan`); under daphne,
which has none, :func:`install` asks the Twisted reactor to run it once it runs. A pool that
fails to start is logged and left to the lazy path, which retries on the next call and reports
the error there. With Redis the process then joins the cluster as a node (`rtc.cluster`).

Other apps add their own start-up work with :func:`on_start` (e.g. recordings finish what a
previous process left half done); each hook runs once the pool was started, on the serving
loop, and a hook that fails is logged without stopping the others.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["install", "on_start", "open_redis_connections", "start_pool"]

logger = logging.getLogger(__name__)

_state: dict[str, Any] = {"installed": False, "task": None}
_hooks: list[Callable[[], Awaitable[Any]]] = []


def on_start(hook: Callable[[], Awaitable[Any]]) -> None:
    """Run ``await hook()`` when the server starts, after the worker pool (once per hook)."""
    if hook not in _hooks:
        _hooks.append(hook)


async def _run_hooks() -> None:
    for hook in list(_hooks):
        try:
            await hook()
        except Exception:
            logger.exception("a start-up hook failed: %r", hook)


async def start_pool() -> bool:
    """Start the process's worker pool, then (with Redis) its cluster node; True when the pool
    runs (failures are logged, not raised). What it starts (the cluster node's tasks, the
    workers' fault handling, the hooks) runs with this loop bound as the one its sync work
    hands meeting events to (`conference.db_threads.bind_calling_loop`)."""
    from conference.db_threads import bind_calling_loop
    from rtc.services import get_room_service

    bind_calling_loop()

    mediasoup = get_room_service().mediasoup
    try:
        await mediasoup.start()
    except Exception:
        logger.exception("the worker pool did not start; the first call will try again")
    await start_cluster_node()
    await open_redis_connections()
    await _run_hooks()
    return mediasoup.started


async def start_cluster_node() -> None:
    """Join the cluster when one is configured (a failure is logged: the node then serves as
    a lone process until it is restarted)."""
    from rtc.cluster import start_node

    try:
        await start_node()
    except Exception:
        logger.exception("this process could not join the cluster")


async def open_redis_connections() -> int:
    """Open ``REDIS_CONNECTIONS_AHEAD`` connections in each Redis pool of the process (the
    channel layer's for this loop, the cluster node's), so the first burst of sockets does not
    open them (`conference.redis_clients.open_ahead`); how many are open. A Redis that does
    not answer (within ``REDIS_POOL_TIMEOUT``) is logged: commands open connections later."""
    from channels.layers import get_channel_layer
    from django.conf import settings

    from conference.channel_layers import RedisChannelLayer
    from conference.redis_clients import open_ahead
    from rtc.cluster import local_node

    count = int(settings.REDIS_CONNECTIONS_AHEAD)
    if count <= 0:
        return 0
    layer = get_channel_layer()
    clients = layer.clients() if isinstance(layer, RedisChannelLayer) else []
    node = local_node()
    if node is not None:
        clients.append(node.store.redis)
    if not clients:
        return 0
    try:
        async with asyncio.timeout(float(settings.REDIS_POOL_TIMEOUT)):
            opened = await asyncio.gather(*(open_ahead(client, count) for client in clients))
    except Exception as error:
        logger.warning("Redis connections not opened ahead (commands will open them): %r",
                       error)
        return 0
    logger.info("Redis: %s connections opened ahead in %s pools", sum(opened), len(clients))
    return sum(opened)


def _start_soon() -> None:
    """Reactor callback (on the reactor's asyncio loop): start the pool in a task."""
    _state["task"] = asyncio.ensure_future(start_pool())


def install() -> bool:
    """Under daphne, start the pool as soon as the reactor runs; True when scheduled."""
    if _state["installed"]:
        return True
    if "daphne.server" not in sys.modules:
        return False
    from twisted.internet import reactor

    reactor.callWhenRunning(_start_soon)
    _state["installed"] = True
    return True
