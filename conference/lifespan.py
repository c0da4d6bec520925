"""The ASGI lifespan protocol: the process starts and stops its calls with the server.

Servers that speak it (uvicorn, hypercorn) send ``lifespan.startup`` before they serve and
``lifespan.shutdown`` after they stopped serving; ``conference.asgi`` routes the ``lifespan``
scope here. daphne sends no lifespan: it gets the same two calls from its Twisted reactor
(``rtc.lifecycle.startup.install``, ``rtc.lifecycle.shutdown.install``). Either way the process
starts through :func:`rtc.lifecycle.startup.start_pool` (the worker pool, the cluster node, the
start-up hooks) and stops through :func:`rtc.lifecycle.shutdown.stop_server` (calls and sockets
closed politely, the pool stopped, the node gone), one code path for every server.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LifespanApp"]

logger = logging.getLogger(__name__)


class LifespanApp:
    """Answers one ``lifespan`` scope: start-up, then shutdown."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve the scope until the server's shutdown is answered."""
        from rtc.lifecycle.shutdown import stop_server
        from rtc.lifecycle.startup import start_pool

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    # A pool that does not start is logged and left to the first call, which
                    # tries again: the server serves anyway (the pages, the probes say why).
                    started = await start_pool()
                except Exception as exc:
                    logger.exception("lifespan start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                logger.info("lifespan start-up done [pool started:%s]", started)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await stop_server()
                except Exception as exc:
                    logger.exception("lifespan shutdown failed")
                    await send({"type": "lifespan.shutdown.failed",
                                "message": str(exc) or type(exc).__name__})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return
