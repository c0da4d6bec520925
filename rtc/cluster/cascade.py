"""The owner's half of a call cascaded over nodes: its links to the other nodes, the choice of
a node, and the pipes between nodes.

A call is owned by one node (its state, its peers, its signaling). Past ``peers_per_node``
peers on the owner (``RTC_PEERS_PER_NODE``, 0: never), :func:`remote_router` claims another
node for the meeting in Redis (least loaded, never draining or full: `rtc.cluster.placement`,
`ClusterStore.claim_cascade`) and opens a router there (:mod:`rtc.cluster.remote`); the
overflow peers' transports go on it, so their ICE candidates carry that node's address and
their media goes straight to it. The owner's code (:mod:`rtc.services.media_ops`,
:mod:`rtc.services.spread`) keeps working on objects: here they are proxies
(:mod:`rtc.cluster.proxies`) that duck-type the mediasoup_ctl objects it uses, each method an
operation on the remote node through the meeting's :class:`Link` (`Relay.ask`), each event of
the real object mirrored back (``cascade.event``).

Producers cross nodes as they cross workers (:func:`pipe_between`, the lazy rule of
``RouterSpread.pipe_to``): one PipeTransport pair per router pair, each listening on its
node's own address, with SRTP (the pipe leaves the machine), set up in two steps (create both,
then connect each with the other's tuple and SRTP key), then a pipe consumer at the source and
a pipe producer with the producer's id at the target.

A remote node whose lease runs out (:func:`watch_links`, each heartbeat) or whose worker died
is handled like a dead worker: its router is dropped and its peers get ``rtc:reconnect``
(``RouterSpread.routers_lost``), rebuilding on the owner's routers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

from mediasoup_ctl.errors import InvalidStateError

from rtc.cluster import placement
from rtc.cluster.ops import operation
from rtc.cluster.proxies import (
    CLASSES,
    RemoteConsumer,
    RemoteObject,
    RemoteProducer,
    RemoteRouter,
    RemoteTransport,
)
from rtc.cluster.remote import own_listen_info

__all__ = ["Link", "RemoteConsumer", "RemoteProducer", "RemoteRouter", "RemoteTransport",
           "is_remote", "links_of", "pipe_between", "remote_router",
           "watch_links"]

logger = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 3
SHUN_SECONDS = 30.0
"""How long a node that failed to open a router (refused, or did not answer in time) is not
claimed again by this owner: a node hanging with its lease kept would else cost every next
overflow peer the timeout, under the call's spread lock."""

NEW_EVENTS: dict[type[RemoteObject], str] = {
    RemoteTransport: "newtransport", RemoteProducer: "newproducer",
    RemoteConsumer: "newconsumer"}
"""The observer event of a proxy's parent when the proxy is made (the library's names)."""


def _node(service: Any) -> Any:
    from rtc.cluster import node_of

    return node_of(service)


def _timeout() -> float:
    """Seconds a cascade operation waits for the other node (``CASCADE_TIMEOUT_SECONDS``): a
    peer's set-up, or the call's spread lock while a node is claimed, waits that long at most,
    not the relay's general timeout."""
    from rtc.cluster.config import cluster_settings

    return float(cluster_settings()["CASCADE_TIMEOUT_SECONDS"])


_SHUNNED: weakref.WeakKeyDictionary[Any, dict[str, float]] = weakref.WeakKeyDictionary()


def shunned(service: Any) -> dict[str, float]:
    """node id → until when (``time.monotonic``) this owner does not claim it again."""
    until = _SHUNNED.setdefault(service, {})
    now = time.monotonic()
    for node_id in [n for n, t in until.items() if t <= now]:
        del until[node_id]
    return until


# -- the link to one node for one meeting ---------------------------------------------------------

_LINKS: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Link]] = (
    weakref.WeakKeyDictionary())


def links_of(service: Any) -> dict[tuple[str, str], Link]:
    """(meeting id, node id) → the owner's link to that node for that meeting."""
    return _LINKS.setdefault(service, {})


class Link:
    """The owner's side of one meeting on one other node: its router and proxies by id.

    It also stands for the remote router's worker in ``Room.workers`` (no worker here)."""

    pid = None
    """No worker pid on this node (the live view shows none for a remote router)."""

    def __init__(self, service: Any, meeting_id: str, node_id: str,
                 router: dict[str, Any]) -> None:
        self.service = service
        self.meeting_id = meeting_id
        self.node_id = node_id
        self.proxies: dict[str, RemoteObject] = {}
        self.router = RemoteRouter(self, {"id": router["routerId"],
                                          "rtp_capabilities": router["rtpCapabilities"]})
        self.proxies[self.router.id] = self.router
        self.closed = False

    async def call(self, target: RemoteObject, method: str, kwargs: dict[str, Any]) -> Any:
        """``target.method(**kwargs)`` on the node; a returned object comes back a proxy."""
        node = _node(self.service)
        if node is None:
            raise InvalidStateError("no cluster node")
        result = await node.relay.ask(self.node_id, "cascade.call", {
            "meeting_id": self.meeting_id, "object_id": target.id, "method": method,
            "kwargs": kwargs}, timeout=_timeout())
        if not (isinstance(result, dict) and "@object" in result):
            return result
        proxy = CLASSES.get(str(result["@object"]), RemoteObject)(self, result)
        if target.closed:  # closed while the object was made: it goes too
            self.call_soon(proxy.id, "close")
            raise InvalidStateError(f"{type(target).__name__} closed [id:{target.id}]")
        self.proxies[proxy.id] = proxy
        target.children.add(proxy)
        if isinstance(proxy, RemoteProducer):
            target.producers[proxy.id] = proxy
            proxy.parents.append(target)
        elif isinstance(proxy, RemoteConsumer):
            target.consumers[proxy.id] = proxy
            proxy.parents.append(target)
        proxy.observer.on("close", lambda: target.children.discard(proxy))
        # As the library's objects do: the parent's observer announces the new child (dynacast
        # follows a call's consumers and producers this way, remote ones included).
        new = NEW_EVENTS.get(type(proxy))
        if new is not None:
            target.observer.emit(new, proxy)
        return proxy

    def call_soon(self, object_id: str, method: str) -> None:
        """Call a method in the background (a close); a failure is only logged."""
        self.service._start_task(self._quietly(object_id, method))

    async def _quietly(self, object_id: str, method: str) -> None:
        node = _node(self.service)
        if node is None or self.node_id not in node.records:
            return
        try:
            await node.relay.ask(self.node_id, "cascade.call", {
                "meeting_id": self.meeting_id, "object_id": object_id, "method": method,
                "kwargs": {}}, timeout=_timeout())
        except Exception as exc:
            logger.info("cascaded %s not done [meeting:%s, node:%s, object:%s]: %s", method,
                        self.meeting_id, self.node_id, object_id, exc)

    def close(self) -> None:
        """The owner is done with this node for the meeting (its router closed)."""
        if self.closed:
            return
        self.closed = True
        self.router._closed(None)
        links = links_of(self.service)
        if links.get((self.meeting_id, self.node_id)) is self:
            del links[(self.meeting_id, self.node_id)]
        self.service._start_task(self._release())
        logger.info("cascade closed [meeting:%s, node:%s, router:%s]", self.meeting_id,
                    self.node_id, self.router.id)

    async def _release(self) -> None:
        node = _node(self.service)
        if node is None:
            return
        try:
            await node.store.release_cascade(self.meeting_id, self.node_id)
            if self.node_id in node.records:
                await node.relay.ask(self.node_id, "cascade.close", {
                    "meeting_id": self.meeting_id, "owner": node.id}, timeout=_timeout())
        except Exception as exc:
            logger.warning("cascade not released [meeting:%s, node:%s]: %s", self.meeting_id,
                           self.node_id, exc)

    def lost(self, why: str) -> None:
        """The node (or its worker) died: its peers rebuild on the owner's routers."""
        self.service._start_task(_router_lost(self, why))


async def _router_lost(link: Link, why: str) -> None:
    service = link.service
    room = service.rooms.get(link.meeting_id)
    logger.warning("cascaded router lost [meeting:%s, node:%s, router:%s]: %s",
                   link.meeting_id, link.node_id, link.router.id, why)
    if room is None:
        link.close()
        return
    async with room.lock:
        # Closed here first, as a dead worker's objects are: the producers on it say
        # transportclose with their peer's router closed (RouterSpread counts them lost).
        link.router._closed("workerclose")
        if link.router in room.routers and not room.closed:
            await service.spread.routers_lost(room, [link.router])
        link.close()


def is_remote(router: Any) -> bool:
    """Whether a router of a call is on another node."""
    return isinstance(router, RemoteRouter)


@operation("cascade.event")
async def on_event(*, service: Any, meeting_id: str, node_id: str, object_id: str, event: str,
                   args: list[Any]) -> None:
    """An event of a real object on ``node_id``, mirrored on its proxy here."""
    link = links_of(service).get((meeting_id, node_id))
    proxy = link.proxies.get(object_id) if link is not None else None
    if proxy is not None:
        proxy.apply(event, list(args or []))


# -- choosing a node -------------------------------------------------------------------------------

async def remote_router(service: Any, room: Any, loads: dict[str, int],
                        budget: int) -> Any | None:
    """A router on another node for one more peer of ``room``: one it has with room under
    ``budget``, else one on a newly claimed node; None when no node can take it."""
    node = _node(service)
    if node is None:
        return None
    remote = [r for r in room.routers if is_remote(r) and not r.closed]
    open_ = [r for r in remote if loads.get(r.id, 0) < budget]
    if open_:
        return min(open_, key=lambda r: loads.get(r.id, 0))
    tried = {node.id, *(r.link.node_id for r in remote), *shunned(service)}
    for _ in range(CLAIM_ATTEMPTS):
        candidate = placement.choose(node.records, exclude=frozenset(tried))
        if candidate is None:
            return None
        tried.add(candidate)
        try:
            if not await node.store.claim_cascade(room.meeting_id, candidate, node.id):
                continue
        except Exception as exc:
            logger.warning("cascade not claimed [meeting:%s, node:%s]: %s", room.meeting_id,
                           candidate, exc)
            continue
        try:
            answer = await node.relay.ask(candidate, "cascade.open", {
                "meeting_id": room.meeting_id, "owner": node.id}, timeout=_timeout())
        except Exception as exc:
            logger.warning("cascade refused [meeting:%s, node:%s]: %s", room.meeting_id,
                           candidate, exc)
            shunned(service)[candidate] = time.monotonic() + SHUN_SECONDS
            try:
                await node.store.release_cascade(room.meeting_id, candidate)
            except Exception as release_error:
                logger.warning("cascade claim kept [meeting:%s, node:%s]: %s",
                               room.meeting_id, candidate, release_error)
            continue
        link = Link(service, room.meeting_id, candidate, answer)
        links_of(service)[(room.meeting_id, candidate)] = link
        if room.closed:
            link.close()
            return None
        room.add_router(link, link.router)
        if room.dynacast is not None:  # the remote viewers' layers count for the senders
            room.dynacast.attach(link.router)
        logger.info("call cascaded to another node [meeting:%s, node:%s, router:%s]",
                    room.meeting_id, candidate, link.router.id)
        return link.router
    return None


async def watch_links(node: Any) -> None:
    """Each heartbeat: renew the cascade claims, and handle links to nodes that left."""
    links = list(links_of(node.service).values())
    for link in links:
        if link.node_id not in node.records and not link.closed:
            link.lost("its node left the cluster")
    live = {link.meeting_id for link in links if not link.closed}
    if live:
        await node.store.renew_cascades(live)


# -- piping producers between nodes ----------------------------------------------------------------

_PAIRS: dict[frozenset[str], asyncio.Future[dict[str, Any]]] = {}


async def _pipe_pair(source: Any, target: Any) -> tuple[Any, Any]:
    """The connected PipeTransport pair between two routers (one of them remote), made once."""
    key = frozenset((source.id, target.id))
    future = _PAIRS.get(key)
    if future is None:
        future = asyncio.get_running_loop().create_future()
        _PAIRS[key] = future
        try:
            pair = await _make_pair(source, target, key)
        except BaseException as exc:
            if _PAIRS.get(key) is future:
                del _PAIRS[key]
            future.set_exception(exc)
            future.exception()
            raise
        future.set_result(pair)
    pair = await asyncio.shield(future)
    return pair[source.id], pair[target.id]


async def _make_pair(source: Any, target: Any, key: frozenset[str]) -> dict[str, Any]:
    options = {"listen_info": own_listen_info(), "enable_srtp": True, "enable_sctp": False}
    one = await source.create_pipe_transport(**options)
    try:
        other = await target.create_pipe_transport(**options)
    except BaseException:
        one.close()
        raise
    try:
        # Step two: each side gets the other's announced tuple and SRTP key.
        await asyncio.gather(
            one.connect(ip=other.tuple["localAddress"], port=other.tuple["localPort"],
                        srtp_parameters=other.srtp_parameters),
            other.connect(ip=one.tuple["localAddress"], port=one.tuple["localPort"],
                          srtp_parameters=one.srtp_parameters))
    except BaseException:
        one.close()
        other.close()
        raise

    def closed(survivor: Any) -> Any:
        def on_close() -> None:
            _PAIRS.pop(key, None)
            survivor.close()
        return on_close

    one.observer.on("close", closed(other))
    other.observer.on("close", closed(one))
    logger.info("pipe pair made [from:%s, to:%s, srtp:%s]", source.id, target.id,
                bool(one.srtp_parameters))
    return {source.id: one, target.id: other}


async def pipe_between(room: Any, source: Any, target: Any, producer_id: str) -> Any:
    """Make the room's producer (on ``source``) available in ``target``; the pipe producer."""
    if not is_remote(source) and not is_remote(target):
        return (await source.pipe_to_router(router=target, producer_id=producer_id)
                )["pipeProducer"]
    _, producer = room.producer(producer_id)
    here, there = await _pipe_pair(source, target)
    pipe_consumer = await here.consume(producer_id=producer_id)
    try:
        piped = await there.produce(
            id=producer_id, kind=pipe_consumer.kind,
            rtp_parameters=pipe_consumer.rtp_parameters, paused=pipe_consumer.producer_paused,
            app_data=dict(producer.app_data or {}))
    except BaseException:
        pipe_consumer.close()
        raise
    pipe_consumer.observer.on("close", piped.close)
    pipe_consumer.observer.on("pause", piped.pause)
    pipe_consumer.observer.on("resume", piped.resume)
    piped.observer.on("close", pipe_consumer.close)
    if pipe_consumer.closed:
        piped.close()
    return piped
