"""Polite shutdown: every socket is told, every call closed, attendance written, workers stopped.

Every server stops the process through :func:`stop_server` (bounded by
``SHUTDOWN_TIMEOUT``): servers with the ASGI lifespan protocol (uvicorn, hypercorn) at
``lifespan.shutdown`` (`conference.lifespan`), daphne, which has none, from a Twisted "before
shutdown" trigger that :func:`install` adds and the reactor awaits. Without it, on SIGTERM
daphne cancels every application task and drops the connections: peers would see a dead
socket, nobody would be marked left, and only the closing pipes would stop the workers.
:func:`stop_server` runs :func:`shutdown`:

1. new meeting sockets are refused (close ``4503``); in a cluster where another node can take
   calls the running recordings stop (reason ``node_draining``: their files finished,
   composed when a process with the same ``RECORDING_NODE`` starts) and the node drains
   (`rtc.cluster.node.Node.drain`): its calls move to other nodes, peers told
   ``rtc:reconnect`` with ``node_draining``; a node alone goes on as a single server;
2. every socket with a call peer gets ``rtc:reconnect`` (``reason: server_shutdown``);
3. running recordings stop (their files finished; they are composed after the next start),
   then the RoomService closes: peers removed, rooms and routers closed, the worker pool
   stopped;
4. every socket leaves its meeting (attendance written, ``left_at`` set) and is closed with
   ``4503``; leaves the database could not take (it is down) are tried once more, and those
   still pending stay in their file for the next start (`rtc.policy.attendance.LateLeaves.close`);
5. under daphne, the sockets' tasks are ended (see :func:`_end_tasks`; a lifespan server has
   ended its connections itself before it sends ``lifespan.shutdown``).

It does not rely on the consumers' tasks (daphne cancels them at the same moment): it uses the
tracked consumer objects, whose ``send`` writes straight to daphne's protocol, still open
during the "before" phase. Any other caller can await :func:`stop_server` or :func:`shutdown`
itself, or ``RoomService.close()`` for the calls alone.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, cast

__all__ = [
    "SHUTDOWN_TIMEOUT",
    "install",
    "open_connections",
    "shutdown",
    "shutting_down",
    "stop_server",
    "track",
    "untrack",
]

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 15.0
"""Seconds the whole shutdown may take before the server stops anyway."""

_connections: dict[Any, asyncio.Task[Any] | None] = {}
"""Open meeting sockets → the application task serving each."""
_state = {"shutting_down": False, "installed": False}
TASK_GRACE = 5.0
"""Seconds the sockets' own tasks get to end after they were closed."""


def track(conn: Any) -> None:
    """Remember an open meeting socket and the task serving it (the consumer calls this from
    its ``connect``, which runs in that task)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    _connections[conn] = task


def untrack(conn: Any) -> None:
    """Forget a meeting socket that left."""
    _connections.pop(conn, None)


def open_connections() -> list[Any]:
    """The tracked meeting sockets (a copy)."""
    return list(_connections)


async def _end_tasks(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the sockets' tasks and wait for them. daphne cancels them too, but a task
    cancelled while it waits for a database thread (asgiref's ``sync_to_async``) swallows
    the cancellation and runs on; one still pending when the interpreter exits crashes its
    finalisation (CPython 3.11, a pending ``Queue.get`` collected at exit: SIGSEGV)."""
    current = asyncio.current_task()
    pending = [t for t in tasks if t is not None and t is not current and not t.done()]
    for _ in range(3):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, still = await asyncio.wait(pending, timeout=TASK_GRACE / 3)
        pending = list(still)
    if pending:
        logger.error("shutdown: %s socket tasks did not end", len(pending))


def shutting_down() -> bool:
    """Whether :func:`shutdown` has started (new sockets are then refused)."""
    return _state["shutting_down"]


async def shutdown() -> dict[str, int]:
    """Close every call and socket politely (see the module docstring); the counts handled."""
    from rtc import cluster
    from rtc.services import current_room_service
    from rtc.signaling.errors import SignalingError
    from rtc.websocket.envelope import CloseCode

    _state["shutting_down"] = True
    node = cluster.local_node()
    if node is not None and node.others_take_calls():
        # In a cluster with somewhere to go: the recordings end before their calls move, no
        # new calls here, this node's calls handed to other nodes first. A node alone shuts
        # down as a single server does (server_shutdown).
        await _stop_recordings("node_draining")
        try:
            await cluster.drain_node()
        except Exception:
            logger.exception("shutdown: draining the node failed")
    conns = open_connections()
    service = current_room_service()
    told = 0
    for conn in conns:
        if service is None:
            break
        try:
            service.peer_of(conn.channel_name)
        except SignalingError:
            continue
        try:
            await conn.send_event("rtc:reconnect", {"reason": "server_shutdown"})
            told += 1
        except Exception:
            logger.exception("shutdown: could not tell channel=%s", conn.channel_name)
    await _stop_recordings("server_shutdown")  # every track file finished before calls close
    if service is not None:
        try:
            await service.close()
        except Exception:
            logger.exception("shutdown: the RoomService did not close cleanly")
    for conn in conns:
        try:
            await conn.leave_and_close(CloseCode.SHUTTING_DOWN)
        except Exception:
            logger.exception("shutdown: could not close channel=%s", conn.channel_name)
    try:  # the leaves just written (or kept because the database is down) go out or to disk
        from rtc.policy.attendance import late_leaves

        await late_leaves.close()
    except Exception:
        logger.exception("shutdown: late leaves not closed cleanly")
    try:
        await cluster.stop_node()
    except Exception:
        logger.exception("shutdown: leaving the cluster failed")
    logger.info("shutdown done [sockets:%s, peers told:%s]", len(conns), told)
    return {"sockets": len(conns), "peers": told}


async def _stop_recordings(reason: str) -> None:
    """Stop every recording of this process (files finished, composed after the next start:
    the process is stopping)."""
    try:
        from rtc.recording.manager import recorder

        await recorder.close(reason)
    except Exception:
        logger.exception("shutdown: recordings did not stop cleanly")


async def stop_server(*, end_tasks: bool = False, timeout: float | None = None
                      ) -> dict[str, int]:
    """The server stops (every server's one path): :func:`shutdown`, then with ``end_tasks``
    (daphne) the sockets' tasks are cancelled and awaited; the counts handled. Raises
    ``TimeoutError`` past ``timeout`` (``SHUTDOWN_TIMEOUT``), or what failed: the lifespan
    answers ``lifespan.shutdown.failed``, daphne's trigger logs it."""

    async def stop() -> dict[str, int]:
        tasks = [t for t in _connections.values() if t is not None]
        counts = await shutdown()
        if end_tasks:
            await _end_tasks(tasks)
        return counts

    logger.info("server stopping: closing calls and sockets [sockets:%s]", len(_connections))
    return await asyncio.wait_for(stop(), SHUTDOWN_TIMEOUT if timeout is None else timeout)


def _before_reactor_shutdown() -> Any:
    """Twisted trigger: run :func:`stop_server` on the reactor's asyncio loop; the reactor
    waits for the returned Deferred."""
    from twisted.internet import defer

    future = asyncio.ensure_future(stop_server(end_tasks=True))
    deferred = defer.Deferred.fromFuture(future)

    def failed(failure: Any) -> None:
        logger.error("polite shutdown failed or timed out: %s", failure.getErrorMessage())

    deferred.addErrback(failed)
    return deferred


def install() -> bool:
    """Register the shutdown trigger once, when this process serves under daphne (whose module
    installed Twisted's asyncio reactor); True when it is registered."""
    if _state["installed"]:
        return True
    if "daphne.server" not in sys.modules:
        return False
    from twisted.internet import reactor

    # Typed as the module (zope interfaces read without their plugin): mypy mistakes the
    # interface's argument positions, so the reactor is used untyped here.
    cast(Any, reactor).addSystemEventTrigger("before", "shutdown", _before_reactor_shutdown)
    _state["installed"] = True
    logger.debug("polite shutdown registered with the reactor (it fires when daphne stops)")
    return True

