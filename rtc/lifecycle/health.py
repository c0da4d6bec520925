"""Probes for load balancers and orchestrators: ``/healthz`` (alive) and ``/readyz`` (can serve).

``/healthz`` answers 200 as long as the process serves HTTP; it touches nothing else, so a
slow database never gets a healthy process restarted.

``/readyz`` runs four checks concurrently, each under a deadline, and answers 200 only when
all pass, else 503; the JSON body names each check and what failed::

    {"status": "unavailable", "failed": ["database"],
     "checks": {"workers": {"ok": true, "alive": 2, "expected": 2},
                "database": {"ok": false, "error": "OperationalError"},
                "channel_layer": {"ok": true, "backend": "RedisChannelLayer"}}}

* ``workers``: the pool is started if it was not (so the first probe warms a new process up),
  then every worker must answer a request (a dump), and as many must be alive as configured
  (``MEDIASOUP_WORKER_NUM``): while a dead worker is being replaced the node is not ready.
* ``database``: a ``SELECT 1`` on the default connection.
* ``channel_layer``: a message sent to a fresh channel and received back.
* ``node`` (in a cluster, `rtc.cluster`): this node's lease is held in Redis and it is not
  draining, so it can take meetings; a draining node (SIGTERM) answers 503 at once, and the
  balancer stops sending it new sockets.

Errors are reported by exception class only: the endpoint is unauthenticated.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from rtc.services import get_room_service, mediasoup_settings

__all__ = ["CHECK_TIMEOUT", "healthz", "readiness", "readyz"]

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0
"""Seconds each readiness check may take before it counts as failed."""

Check = dict[str, Any]


async def check_workers() -> Check:
    """Start the pool if needed; every live worker answers, and none is missing."""
    pool = get_room_service().mediasoup
    expected = int(mediasoup_settings()["WORKER_NUM"])
    # Shielded: a probe timing out must not cancel a start other callers wait for.
    await asyncio.shield(pool.start())
    workers = [w for w in pool.workers if not w.closed]
    answers = await asyncio.gather(*(w.dump() for w in workers), return_exceptions=True)
    responsive = sum(1 for a in answers if not isinstance(a, BaseException))
    result: Check = {"ok": responsive >= expected and responsive > 0,
                     "alive": responsive, "expected": expected}
    if responsive < len(workers):
        result["unresponsive"] = len(workers) - responsive
    return result


def _select_one() -> None:
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    if row is None or row[0] != 1:
        raise RuntimeError("SELECT 1 returned no 1")


async def check_database() -> Check:
    """A real query on the default database connection."""
    started = time.monotonic()
    await database_sync_to_async(_select_one)()
    return {"ok": True, "seconds": round(time.monotonic() - started, 4)}


async def check_channel_layer() -> Check:
    """A round trip through the channel layer: send to a new channel, receive it back."""
    layer = get_channel_layer()
    if layer is None:
        return {"ok": False, "error": "no channel layer configured"}
    channel = await layer.new_channel()
    nonce = secrets.token_hex(8)
    await layer.send(channel, {"type": "health.check", "nonce": nonce})
    message = await layer.receive(channel)
    ok = isinstance(message, dict) and message.get("nonce") == nonce
    return {"ok": ok, "backend": type(layer).__name__}


async def check_node() -> Check:
    """In a cluster: this node's lease is held in Redis and it is not draining, so the
    placement may give it meetings. Without a cluster there is nothing to check."""
    from rtc.cluster import local_node

    node = local_node()
    if node is None:
        return {"ok": True, "cluster": False}
    alive = await node.store.alive(node.id)
    return {"ok": alive and not node.draining, "cluster": True, "node": node.id,
            "lease": alive, "draining": node.draining, "nodes": len(node.records)}


CHECKS: dict[str, Callable[[], Awaitable[Check]]] = {
    "workers": check_workers,
    "database": check_database,
    "channel_layer": check_channel_layer,
    "node": check_node,
}


async def _run(name: str, check: Callable[[], Awaitable[Check]], timeout: float) -> Check:
    try:
        async with asyncio.timeout(timeout):
            return await check()
    except TimeoutError:
        logger.warning("readiness check %s timed out after %ss", name, timeout)
        return {"ok": False, "error": "timeout"}
    except Exception as error:
        logger.warning("readiness check %s failed: %s: %s", name, type(error).__name__, error)
        return {"ok": False, "error": type(error).__name__}


async def readiness(timeout: float | None = None) -> dict[str, Any]:
    """Run every check concurrently (each within ``timeout``, default :data:`CHECK_TIMEOUT`);
    the body ``/readyz`` sends."""
    timeout = CHECK_TIMEOUT if timeout is None else timeout
    names = list(CHECKS)
    results = await asyncio.gather(*(_run(n, CHECKS[n], timeout) for n in names))
    checks = dict(zip(names, results, strict=True))
    failed = [name for name, result in checks.items() if not result.get("ok")]
    return {"status": "unavailable" if failed else "ready", "failed": failed, "checks": checks}


@never_cache
async def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving HTTP."""
    return JsonResponse({"status": "ok"})


@never_cache
async def readyz(request: HttpRequest) -> JsonResponse:
    """200 when workers, database and channel layer all work; 503 naming what failed."""
    body = await readiness()
    return JsonResponse(body, status=503 if body["failed"] else 200)
