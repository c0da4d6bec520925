"""Meeting sockets counted for the whole cluster: per user and per client address, in Redis.

A socket first takes its slot in this process's counts (`rtc.websocket.limits`), then, on a node
of a cluster, :func:`take_shared` counts it in two Redis hashes (the user's and the address's),
one field per node incarnation, in one Lua script that sums the live nodes' fields and refuses
when a limit is reached, so two sockets on two nodes cannot both slip under it. Fields of nodes
whose lease ran out (or that restarted) are dropped by the same script: a dead node's sockets
stop counting when it leaves the cluster. The slot's release gives the shared count back
(the releases of sockets that close together in one script call).

If Redis does not answer, the socket is let through on the local count alone (logged): a
Redis hiccup must not lock everybody out of their meetings.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from conference.batching import Batches
from rtc.websocket.limits import SocketLimit, SocketSlot, open_sockets

__all__ = ["take_shared"]

logger = logging.getLogger(__name__)

_tasks: set[asyncio.Task[Any]] = set()

ACQUIRE_BATCH = 200
"""The most sockets counted in one Redis call."""

_Acquisition = tuple[Any, str, list[tuple[str, int]]]
"""A socket's count to take: the cluster store, the node's incarnation, its counters."""

_Release = tuple[Any, str, list[str]]
"""A socket's count to give back: the cluster store, the node's incarnation, its counter keys."""


def _by_store(items: list[tuple[Any, str, Any]]) -> list[tuple[Any, str, list[int]]]:
    """The items' positions per (store, incarnation), with that store and incarnation."""
    found: dict[tuple[int, str], tuple[Any, str, list[int]]] = {}
    for index, (store, incarnation, _) in enumerate(items):
        found.setdefault((id(store), incarnation), (store, incarnation, []))[2].append(index)
    return list(found.values())


async def _acquire_together(items: list[_Acquisition]) -> list[int | Exception]:
    """The sockets that asked while the previous call was out, counted in one round trip per
    store (one in practice: the node's), each decided in turn as if alone."""
    outcomes: list[int | Exception] = [0] * len(items)
    for store, incarnation, indexes in _by_store(items):
        try:
            results: list[int | Exception] = list(await store.acquire_sockets_many(
                incarnation, [items[i][2] for i in indexes]))
        except Exception as error:
            results = [error] * len(indexes)
        for index, result in zip(indexes, results, strict=True):
            outcomes[index] = result
    return outcomes


_acquisitions: Batches[_Acquisition, int] = Batches(_acquire_together, max_size=ACQUIRE_BATCH,
                                                    concurrency=2)
"""Socket counts taken together (`conference.batching.Batches`): on the hour a few hundred
sockets open in a second, and one Redis script call each queued them on the connection pool."""


async def take_shared(slot: SocketSlot, *, max_per_user: int,
                      max_per_address: int) -> SocketLimit | None:
    """Count ``slot`` cluster-wide; the limit that refuses it (its local slot is then given
    back), or None. Nothing to do without a cluster or without limits."""
    from rtc.cluster import local_node

    node = local_node()
    if node is None or not (max_per_user or max_per_address):
        return None
    store = node.store
    counters = [(store.counter_key("user", slot.user_id), int(max_per_user), SocketLimit.USER)]
    if slot.address is not None:
        counters.append((store.counter_key("address", slot.address), int(max_per_address),
                         SocketLimit.ADDRESS))
    try:
        full = await _acquisitions.submit((store, node.incarnation,
                                           [(k, n) for k, n, _ in counters]))
    except Exception:
        logger.exception("cluster socket counts unavailable; counted on this node only")
        return None
    if full:
        limit = counters[full - 1][2]
        open_sockets.note_refused(limit)
        open_sockets.release(slot)
        return limit
    slot.shared = (node, [k for k, _, _ in counters])
    if slot.released:  # the socket ended while Redis answered
        _give_back(slot)
    return None


async def _release_together(items: list[_Release]) -> list[None | Exception]:
    """The sockets that closed while the previous call was out, given back in one round trip
    per store (one in practice: the node's)."""
    outcomes: list[None | Exception] = [None] * len(items)
    for store, incarnation, indexes in _by_store(items):
        try:
            await store.release_sockets(incarnation, [key for i in indexes for key in items[i][2]])
        except Exception as error:
            for index in indexes:
                outcomes[index] = error
    return outcomes


_releases: Batches[_Release, None] = Batches(_release_together, max_size=ACQUIRE_BATCH,
                                             concurrency=2)
"""Socket counts given back together: at the end of the hour a few hundred sockets close in a
second, and one script call each took a pooled connection each on a loop busy with their
leaves."""


def _give_back(slot: SocketSlot) -> None:
    node, keys = slot.shared
    slot.shared = None

    async def release() -> None:
        try:
            await _releases.submit((node.store, node.incarnation, keys))
        except Exception:
            logger.exception("cluster socket count not given back (it lapses with the node)")

    try:
        task = asyncio.get_running_loop().create_task(release())
    except RuntimeError:
        return
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


open_sockets.on_release = _give_back
