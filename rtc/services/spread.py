"""A call larger than one router: more routers on other workers, producers piped between them.

One router (one worker, one CPU core) carries a call until ``peers_per_router`` peers have
their transports on it (``RTC_PEERS_PER_ROUTER``). A peer gets its router at its first
``rtc:createTransport``: the least loaded router of the call (fewest peers); when even that one
is at the budget, the call gets a new router on a worker it does not use yet (none left: the
peer goes on the least loaded router anyway, over the budget).

Media crosses routers through ``Router.pipe_to_router`` (one PipeTransport pair per router
pair, on loopback): a producer is piped to another router lazily, the first time a peer there
consumes it, and once per router (concurrent first consumes share the pipe). Audio producers
are also piped to the primary router, whose ActiveSpeakerObserver hears the whole call. The
pipe consumer closes with its producer and takes the pipe producer (hence the consumers of it)
with it. A non-primary router whose last peer left is closed, with its pipe transports.

A worker that dies takes its routers: when the call has other routers, only the peers on the
dead ones lose their media (``rtc:reconnect``, ``media_server_restarted``; the others see their
producers close) and they get a router again when they make transports again; a dead primary
router hands its role to the next router. With no router left, the RoomService rebuilds the
call on a new router as it always did. Clients see none of this: the protocol is unchanged.

Past ``peers_per_node`` peers on this node (0: never), a call also gets routers on other nodes
(:mod:`rtc.cluster.cascade`): proxies of the remote objects, used here as the local ones.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from rtc.cluster.cascade import is_remote, pipe_between
from rtc.services import notify
from rtc.services.config import limits
from rtc.services.rooms import Peer, Room

if TYPE_CHECKING:
    from rtc.services.mediasoup_service import MediasoupService

__all__ = ["RouterSpread"]

logger = logging.getLogger(__name__)


class RouterSpread:
    """Mixed into RoomService (through MediaOperations), which provides ``mediasoup`` and the
    media bookkeeping used below."""

    mediasoup: MediasoupService

    async def _attach_speaker_observer(self, room: Room) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- which router a peer uses ---------------------------------------------------------------

    async def _router_for(self, room: Room, peer: Peer) -> Any:
        """The router the peer's transports go on (chosen now if it has none)."""
        if peer.router is not None and not peer.router.closed:
            return peer.router
        async with room.spread_lock:
            if peer.router is not None and not peer.router.closed:
                return peer.router
            loads = self._router_loads(room)
            remote = await self._remote_router(room, loads)
            if remote is not None:
                peer.router = remote
                return remote
            router = min((r for r in room.routers if not r.closed and not is_remote(r)),
                         key=lambda r: loads.get(r.id, 0), default=room.router)
            if loads.get(router.id, 0) >= limits().peers_per_router:
                router = await self._add_router(room) or router
            if router.closed:  # its worker died while the new router was being made
                router = room.router
            peer.router = router
            return router

    async def _remote_router(self, room: Room, loads: dict[str, int]) -> Any:
        """A router on another node when the owner holds its budget of the call's peers
        (``peers_per_node``, :mod:`rtc.cluster.cascade`); None to stay here."""
        budget = limits().peers_per_node
        if not budget:
            return None
        here = sum(n for rid, n in loads.items()
                   if not any(r.id == rid and is_remote(r) for r in room.routers))
        if here < budget:
            return None
        from rtc.cluster.cascade import remote_router

        return await remote_router(self, room, loads, budget)

    @staticmethod
    def _router_loads(room: Room) -> dict[str, int]:
        """router id → peers of the room with their transports on it."""
        loads = {router.id: 0 for router in room.routers}
        for peer in room.peers.values():
            if peer.router is not None and peer.router.id in loads:
                loads[peer.router.id] += 1
        return loads

    async def _add_router(self, room: Room) -> Any:
        """A new router for the call on a worker it does not use yet; None if there is none
        (or it could not be made: the call goes on without it)."""
        try:
            worker, router = await self.mediasoup.create_router(
                app_data={"meetingId": room.meeting_id, "spread": True},
                exclude=set(room.workers.values()))
        except Exception as exc:
            logger.info("call not spread [meeting:%s, routers:%s]: %s", room.meeting_id,
                        len(room.routers), exc)
            return None
        if room.closed or worker in room.workers.values():
            # The call's worker died while this router was made, and its replacement (the one
            # picked here) now holds the call's rebuilt router: two routers of a call on one
            # worker cannot pipe to each other (the pipe producer takes the producer's id:
            # "handler already exists", found by bench.worker_kill_load --peers 100).
            router.close()
            return None
        room.add_router(worker, router)
        if room.dynacast is not None:
            room.dynacast.attach(router)
        logger.info("call spread to another router [meeting:%s, router:%s, worker:%s, "
                    "routers:%s]", room.meeting_id, router.id, worker.pid, len(room.routers))
        return router

    def _release_router(self, room: Room, peer: Peer) -> None:
        """After ``peer`` left: close its router if it is not the primary and nobody uses it."""
        router = peer.router
        peer.router = None
        if router is None or router is room.router or router not in room.routers:
            return
        if any(other.router is router for other in room.peers.values()):
            return
        room.drop_router(router)
        router.close()
        logger.info("spread router closed, its last peer left [meeting:%s, router:%s]",
                    room.meeting_id, router.id)

    # -- piping producers -----------------------------------------------------------------------

    async def _pipe_to(self, room: Room, producer_id: str, router: Any) -> None:
        """Make the room's producer available in ``router`` (no-op where it was made)."""
        source = room.router_of(producer_id)
        if source is router:
            return
        key = (producer_id, router.id)
        future = room.pipes.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            room.pipes[key] = future
            try:
                # Between workers of this node, or (cascade) between nodes.
                piped = await pipe_between(room, source, router, producer_id)
            except BaseException as exc:
                if room.pipes.get(key) is future:
                    del room.pipes[key]
                future.set_exception(exc)
                future.exception()  # retrieved here: waiters re-raise it themselves
                raise

            def forget() -> None:
                if room.pipes.get(key) is future:
                    del room.pipes[key]

            piped.observer.on("close", forget)
            if piped.closed:
                forget()
            future.set_result(piped)
            logger.info("producer piped [meeting:%s, producer:%s, from:%s, to:%s]",
                        room.meeting_id, producer_id, source.id, router.id)
        await asyncio.shield(future)

    # -- a worker died --------------------------------------------------------------------------

    async def _routers_lost(self, room: Room, lost: list[Any]) -> None:
        """Some (not all) routers of the call died with their worker; the room lock is held.
        Their peers rebuild their media (``rtc:reconnect``), the others keep theirs."""
        # A peer is hit when its router died, and also when it still holds a transport that
        # died with it: a peer whose router was closed asks for a router again at its next
        # rtc:createTransport, which may come before this runs (the room lock was busy), so
        # its router is a live one while its first transports and producers are dead (found
        # by bench.worker_kill_load: such peers lost their producer silently, no reconnect).
        hit = [peer for peer in room.peers.values()
               if peer.router in lost or any(t.closed for t in peer.transports.values())]
        primary_lost = room.router in lost
        for router in lost:
            room.drop_router(router)
        gone = [(peer, pid) for peer, pid in room.lost_producers if peer in hit]
        room.lost_producers.clear()
        for peer in hit:
            gone += [(peer, producer_id) for producer_id in peer.producers]
            peer.release_media()  # closes what it has on a live router too
            peer.router = None
        if primary_lost:
            survivor = room.routers[0]
            room.set_primary(room.workers[survivor.id], survivor)
            room.active_speaker = None
            await self._attach_speaker_observer(room)
            for producer_id, owner in list(room.producer_owner.items()):
                producer = owner.producers.get(producer_id)
                if producer is not None and producer.kind == "audio":
                    await self._observe_audio(room, producer)
        logger.warning("routers lost [meeting:%s, routers:%s, peers:%s, primary:%s]",
                       room.meeting_id, len(lost), len(hit), room.router.id)
        for peer, producer_id in gone:
            await notify.broadcast(room.meeting_id, "rtc:producerClosed",
                                   {"peerId": peer.id, "producerId": producer_id},
                                   exclude=peer.channel_name)
        for peer in hit:
            await notify.send_to(peer.channel_name, "rtc:reconnect",
                                 {"reason": "media_server_restarted"})

    async def _observe_audio(self, room: Room, producer: Any) -> None:
        """Add an audio producer to the room's speaker observer (piped to its router first);
        a failure only costs speaker detection."""
        if room.observer is None:
            return
        try:
            await self._pipe_to(room, producer.id, room.router)
            await room.observer.add_producer(producer_id=producer.id)
        except Exception as exc:
            logger.warning("active speaker observer refused producer [meeting:%s, "
                           "producer:%s]: %s", room.meeting_id, producer.id, exc)
