"""Many server processes acting as one meeting service, on Redis, the channel layer and the
shared database (no consensus of our own, no second coordination system).

With ``REDIS_URL`` set (and ``CLUSTER`` not ``0``), a serving process starts a :class:`Node`
with the server (`rtc.lifecycle.startup`, `rtc.lifecycle.shutdown`): it registers in Redis under a
lease (`rtc.cluster.store`), owns the calls placed on it (`rtc.cluster.placement`), serves the
requests other nodes relay to it and relays those of its sockets whose call runs elsewhere
(`rtc.cluster.relay`), mirrors its attendance (`rtc.cluster.presence`) and counts its sockets
in the cluster-wide limits (`rtc.cluster.limits`). Without Redis, or before the server started
a node (the in-process tests), :func:`local_node` is None and everything runs in this process
exactly as a single server does.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtc.cluster.node import Node

__all__ = [
    "detach_route",
    "drain_node",
    "local_node",
    "node_of",
    "on_nodes_gone",
    "route_request",
    "set_local_node",
    "start_node",
    "stop_node",
]

logger = logging.getLogger(__name__)

_node: Node | None = None
_gone_listeners: list[Callable[[list[str]], Awaitable[Any]]] = []
_gone_tasks: set[asyncio.Task[Any]] = set()


def local_node() -> Node | None:
    """This process's node, once started (None without a cluster)."""
    return _node


_by_service: weakref.WeakKeyDictionary[Any, Node] = weakref.WeakKeyDictionary()


def node_of(service: Any) -> Node | None:
    """The started node serving with the RoomService ``service`` (tests run two nodes in one
    process), else this process's node."""
    node = _by_service.get(service) if service is not None else None
    return node if node is not None else _node


def register_service(node: Node, *, started: bool) -> None:
    """Tell :func:`node_of` that ``node`` serves with its RoomService (or no longer does)."""
    if started:
        _by_service[node.service] = node
    elif _by_service.get(node.service) is node:
        del _by_service[node.service]


def _media_address() -> str:
    from rtc.services.config import mediasoup_settings

    ms = mediasoup_settings()
    return str(ms.get("ANNOUNCED_IP") or ms.get("LISTEN_IP") or "127.0.0.1")


async def start_node(*, redis: Any = None, service: Any = None, layer: Any = None,
                     node_id: str | None = None) -> Node | None:
    """Start this process's node if the cluster is configured (once); the node or None.

    The keyword arguments replace the defaults (tests run two nodes in one process)."""
    global _node
    from rtc.cluster.config import cluster_settings

    config = cluster_settings()
    if _node is not None or not config["ENABLED"]:
        return _node
    _node = await make_node(redis=redis, service=service, layer=layer, node_id=node_id)
    try:
        await _node.start()
    except Exception:
        _node = None
        raise
    return _node


async def make_node(*, redis: Any = None, service: Any = None, layer: Any = None,
                    node_id: str | None = None) -> Node:
    """A node (not started) on the configured Redis, channel layer and RoomService."""
    from channels.layers import get_channel_layer
    from django.conf import settings

    from rtc.cluster.config import cluster_settings, key_prefix
    from rtc.cluster.node import Node, default_node_id
    from rtc.cluster.store import ClusterStore
    from rtc.services import get_room_service

    config = cluster_settings()
    if redis is None:
        from conference.redis_clients import redis_client

        redis = redis_client(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    lease = float(config["LEASE_SECONDS"])
    store = ClusterStore(redis, prefix=key_prefix(), lease_ms=int(lease * 1000))
    return Node(node_id=node_id or config["NODE_ID"] or default_node_id(), store=store,
                layer=layer or get_channel_layer(), service=service or get_room_service(),
                lease_seconds=lease, address=_media_address(), url=config["NODE_URL"])


async def drain_node() -> int:
    """SIGTERM: hand this node's calls to others (`Node.drain`); peers told (0 without one)."""
    from rtc.cluster.config import cluster_settings

    if _node is None:
        return 0
    return await _node.drain(wait=float(cluster_settings()["DRAIN_SECONDS"]))


async def stop_node() -> None:
    """Leave the cluster (the end of the shutdown)."""
    global _node
    node, _node = _node, None
    if node is not None:
        await node.stop()


def set_local_node(node: Node | None) -> Node | None:
    """Install ``node`` as this process's (tests); the previous one."""
    global _node
    previous, _node = _node, node
    return previous


async def route_request(conn: Any, name: str, request: Any, *,
                        call_state: bool = False) -> dict[str, Any] | None:
    """Serve ``request`` on the node owning the socket's call when that is another node: its
    reply data; None when it is to be served here (no cluster, or the call runs here).

    ``call_state``: the request reads the live call (who has a hand up), which only the
    owner holds, so a socket that has not joined the call (no route) is served by the
    meeting's owner too, if the call runs somewhere."""
    node = _node
    if node is None:
        return None
    if name == "rtc:join":
        owner = await node.place(str(conn.meeting_id))
        node.route(conn.channel_name, conn.meeting_id, owner)
    else:
        route = node.routes.get(conn.channel_name)
        if route is not None:
            owner = route.owner
        elif call_state:
            found = await node.owner_of(str(conn.meeting_id))
            if found is None:
                return None
            owner = found
        else:
            return None
    if owner == node.id:
        return None
    return await node.relay.forward(owner, conn, name, request)


async def detach_route(conn: Any) -> bool:
    """The socket closed: if its call runs on another node, tell that node (True)."""
    node = _node
    if node is None:
        return False
    route = node.forget(conn.channel_name)
    if route is None or route.owner == node.id:
        return False
    await node.relay.forward_detach(route.owner, conn)
    return True


def on_nodes_gone(listener: Callable[[list[str]], Awaitable[Any]]) -> None:
    """Call ``await listener(node_ids)`` on the one live node that notices nodes whose lease
    ran out (they died without a word: SIGKILL, a lost machine)."""
    if listener not in _gone_listeners:
        _gone_listeners.append(listener)


async def nodes_gone(node_ids: list[str]) -> None:
    """Tell the listeners (`on_nodes_gone`) that ``node_ids`` left, in a task of their own (the
    heartbeat that noticed must not wait for their database work); a failure is logged."""
    if not _gone_listeners:
        return
    task = asyncio.get_running_loop().create_task(_tell_gone(list(node_ids)))
    _gone_tasks.add(task)
    task.add_done_callback(_gone_tasks.discard)


async def _tell_gone(node_ids: list[str]) -> None:
    for listener in list(_gone_listeners):
        try:
            await listener(node_ids)
        except Exception:
            logger.exception("a nodes-gone listener failed [nodes:%s]", ",".join(node_ids))
