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

The router-level parts of a call live here too: the ActiveSpeakerObserver on the primary
router (``rtc:activeSpeaker``) and the room's dynacast (:mod:`rtc.services.dynacast`).
:class:`RouterSpread` is one object the RoomService holds and
:class:`rtc.services.media_ops.MediaOperations` asks for routers and pipes; it keeps no state
of its own (the routers, pipes and lost producers of a call are its
:class:`rtc.services.rooms.Room`'s). Routers and workers are used by duck typing (a stand-in
for a router of another node works as well as the library's own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal

from rtc.cluster.cascade import is_remote, pipe_between
from rtc.services import notify
from rtc.services.config import dynacast_options, limits
from rtc.services.dynacast import Dynacast
from rtc.services.rooms import Peer, Room

if TYPE_CHECKING:
    from mediasoup_ctl import Producer, Router, Worker

    from rtc.services.mediasoup_service import MediasoupService

__all__ = ["RouterSpread"]

logger = logging.getLogger(__name__)

ACTIVE_SPEAKER_INTERVAL_MS = 300

StartTask = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]
"""The RoomService's way to run a background coroutine (kept, awaited at close)."""


class RouterSpread:
    """The routers of every call of one RoomService: which router a peer uses, pipes between
    them, the speaker observer and dynacast on them, and what a dead worker's routers take."""

    def __init__(self, mediasoup: MediasoupService, *, start_task: StartTask,
                 service: Any = None) -> None:
        self.mediasoup = mediasoup
        self._start_task = start_task
        self.service = service
        """The RoomService holding it (a cascade to another node is kept per service)."""

    # -- room-level media ---------------------------------------------------------------------

    async def attach_observer(self, room: Room) -> None:
        """An ActiveSpeakerObserver on the room's router, announcing ``rtc:activeSpeaker``;
        and the room's dynacast, following the (new) router."""
        self._attach_dynacast(room)
        await self._attach_speaker_observer(room)

    def open_observer(self, room: Room) -> None:
        """:meth:`attach_observer` for a room just opened, without waiting for the worker:
        the first join's reply (and the joins of the meeting waiting for its room) need no
        speaker observer, only its audio producers do (:meth:`observe_audio` waits for it).
        Its request is sent on the loop's next turn, before any request of the joined peer
        can be read, so the worker still creates it before the call's first producer."""
        self._attach_dynacast(room)
        room.observer_opening = self._start_task(self._attach_speaker_observer(room))

    async def _attach_speaker_observer(self, room: Room) -> None:
        """The ActiveSpeakerObserver on the room's (primary) router."""
        router = room.router
        try:
            observer = await router.create_active_speaker_observer(
                interval=ACTIVE_SPEAKER_INTERVAL_MS)
        except Exception as exc:  # the call works without speaker detection
            logger.warning("no active speaker observer [meeting:%s]: %s", room.meeting_id, exc)
            if room.router is router:
                room.observer = None
            return
        if room.router is not router:  # the call moved to another router meanwhile
            observer.close()
            return
        room.observer = observer

        def on_dominant(info: Any) -> None:
            producer = info.get("producer") if isinstance(info, dict) else info
            owner = room.owner_of(getattr(producer, "id", ""))
            if room.closed or room.observer is not observer or owner is None:
                return
            room.active_speaker = owner.id
            self._start_task(notify.broadcast(room.meeting_id, "rtc:activeSpeaker",
                                              {"peerId": owner.id}))

        observer.on("dominantspeaker", on_dominant)

    def _attach_dynacast(self, room: Room) -> None:
        """The room's dynacast on its (new) primary router, when dynacast is enabled."""
        if room.dynacast is not None:
            room.dynacast.close()
        options = dynacast_options()
        if not options.enabled:
            room.dynacast = None
            return

        def owner_channel(producer_id: str) -> str | None:
            owner = room.owner_of(producer_id)
            return None if owner is None or owner.closed else owner.channel_name

        room.dynacast = Dynacast(meeting_id=room.meeting_id, owner_channel=owner_channel,
                                 start_task=self._start_task, raise_delay=options.raise_delay,
                                 lower_delay=options.lower_delay)
        room.dynacast.attach(room.router)


    # -- which router a peer uses ---------------------------------------------------------------

    async def router_for(self, room: Room, peer: Peer) -> Router:
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

        return await remote_router(self.service, room, loads, budget)

    @staticmethod
    def _router_loads(room: Room) -> dict[str, int]:
        """router id → peers of the room with their transports on it."""
        loads = {router.id: 0 for router in room.routers}
        for peer in room.peers.values():
            if peer.router is not None and peer.router.id in loads:
                loads[peer.router.id] += 1
        return loads

    async def _add_router(self, room: Room) -> Router | None:
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

    def release_router(self, room: Room, peer: Peer) -> None:
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

    async def pipe_to(self, room: Room, producer_id: str, router: Router) -> None:
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

    async def worker_died(self, room: Room, worker: Worker) -> Literal["spread", "moved",
                                                                       "failed"]:
        """``worker`` died under the call (the room lock is held). ``spread``: the call has
        routers elsewhere, only its peers on the dead ones rebuild (:meth:`routers_lost`).
        ``moved``: the whole call is on a new primary router now, all its media forgotten (its
        peers must rebuild it). ``failed``: no new router could be made."""
        lost = [r for r in room.routers if room.workers.get(r.id) is worker]
        if room.worker is worker and room.router not in lost:
            lost.append(room.router)
        if any(r not in lost and not is_remote(r) for r in room.routers):
            await self.routers_lost(room, lost)
            return "spread"
        # Every router of this node died: the call starts again on a new one, its routers
        # on other nodes (a cascade) closed there too, all peers rebuild.
        for router in [r for r in room.routers if is_remote(r)]:
            router.close()
            lost.append(router)
        for router in lost:
            room.drop_router(router)
        room.forget_media()
        room.active_speaker = None
        try:
            room.set_primary(*await self.mediasoup.create_router(
                app_data={"meetingId": room.meeting_id}))
            await self.attach_observer(room)
        except Exception:
            logger.exception("no new router for room [meeting:%s]; closing it", room.meeting_id)
            return "failed"
        logger.info("room moved [meeting:%s, router:%s, worker:%s]", room.meeting_id,
                    room.router.id, room.worker.pid)
        return "moved"

    async def routers_lost(self, room: Room, lost: list[Router]) -> None:
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
                    await self.observe_audio(room, producer)
        logger.warning("routers lost [meeting:%s, routers:%s, peers:%s, primary:%s]",
                       room.meeting_id, len(lost), len(hit), room.router.id)
        for peer, producer_id in gone:
            await notify.broadcast(room.meeting_id, "rtc:producerClosed",
                                   {"peerId": peer.id, "producerId": producer_id},
                                   exclude=peer.channel_name)
        for peer in hit:
            await notify.send_to(peer.channel_name, "rtc:reconnect",
                                 {"reason": "media_server_restarted"})

    async def observe_audio(self, room: Room, producer: Producer) -> None:
        """Add an audio producer to the room's speaker observer (piped to its router first);
        a failure only costs speaker detection."""
        opening = room.observer_opening
        if opening is not None and not opening.done():
            await asyncio.wait((opening,))  # a failure is logged there and leaves no observer
        if room.observer is None:
            return
        try:
            await self.pipe_to(room, producer.id, room.router)
            await room.observer.add_producer(producer_id=producer.id)
        except Exception as exc:
            logger.warning("active speaker observer refused producer [meeting:%s, "
                           "producer:%s]: %s", room.meeting_id, producer.id, exc)
