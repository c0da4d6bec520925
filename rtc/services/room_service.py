"""RoomService: who is in which call; joining, resuming, leaving, removal, worker faults.

One Room per meeting with peers, created on the first ``rtc:join`` (its router on the least
loaded worker) and closed with its router when the last peer goes. Connections are mapped to
peers by channel name. Membership changes of a room run under the room's lock, so capacity
checks, resumes, removals and the rebuild after a worker death never interleave.

A dropped socket does not end the peer at once: it is detached and kept for
``reconnect_grace_seconds``, during which ``rtc:join`` with ``resume`` (its ``peerId`` and the
secret ``resumeToken`` from ``rtc:joined``) attaches a new connection to it, transports and all.
The media requests live in :class:`rtc.services.media_ops.MediaOperations` and the routers of
a call in :class:`rtc.services.spread.RouterSpread`, two objects the RoomService holds and
forwards to (it is what signaling, the admin and the integrations call; the media requests'
hand-overs are its base :class:`rtc.services.media_requests.MediaRequests`); the call model
with its ownership rules is :mod:`rtc.services.rooms`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from conference import clock
from conference.keyed_locks import KeyedLocks
from meetings import selectors
from rtc import signals
from rtc.policy.attendance import attendance, mark_left, peer_key
from rtc.services import notify
from rtc.services.access import meeting_access, user_may_rejoin
from rtc.services.config import limits
from rtc.services.media_ops import MediaOperations
from rtc.services.media_requests import MediaRequests
from rtc.services.mediasoup_service import MediasoupService
from rtc.services.rooms import Peer, Room
from rtc.services.spread import RouterSpread
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.schemas import JoinRequest

if TYPE_CHECKING:
    from mediasoup_ctl import Worker

    from rtc.policy.grants import Grants

__all__ = ["RoomService"]

logger = logging.getLogger(__name__)


class RoomService(MediaRequests):
    """Every call of this process."""

    def __init__(self, mediasoup: MediasoupService | None = None) -> None:
        self.mediasoup = mediasoup or MediasoupService()
        self.mediasoup.on_worker_died(self._on_worker_died)
        self.spread = RouterSpread(self.mediasoup, start_task=self._start_task, service=self)
        self.media = MediaOperations(self.mediasoup, self.spread, peer_of=self.peer_of,
                                     start_task=self._start_task)
        self._rooms: dict[str, Room] = {}
        self._by_channel: dict[str, tuple[Room, Peer]] = {}
        self._opening = KeyedLocks()
        self._being_opened: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # -- lookups ------------------------------------------------------------------------------

    @property
    def rooms(self) -> dict[str, Room]:
        """Open rooms by meeting id (read it, do not change it)."""
        return self._rooms

    def peer_of(self, channel_name: str) -> tuple[Room, Peer]:
        """The room and peer attached to a connection; ``invalid`` if it has not joined."""
        found = self._by_channel.get(channel_name)
        if found is None or found[1].closed:
            raise SignalingError(ErrorCode.INVALID, "join the call first (rtc:join)")
        return found

    def live_room(self, meeting_id: Any) -> Room:
        """The meeting's open room; ``not_found`` when it has no live call here."""
        room = self._rooms.get(str(meeting_id))
        if room is None or room.closed:
            raise SignalingError(ErrorCode.NOT_FOUND, "no live call for that meeting")
        return room

    def counts(self) -> dict[str, int]:
        """Rooms, peers, transports, producers, consumers and workers of this process."""
        totals = {"rooms": len(self._rooms), "peers": 0, "transports": 0, "producers": 0,
                  "consumers": 0}
        for room in self._rooms.values():
            for key, value in room.counts().items():
                totals[key] += value
        totals["workers"] = len(self.mediasoup.workers)
        return totals

    async def worker_dumps(self) -> list[dict[str, Any]]:
        """Each live worker's pid and routers as the worker reports them
        (:meth:`MediasoupService.worker_dumps`)."""
        return await self.mediasoup.worker_dumps()

    # -- join and resume ----------------------------------------------------------------------

    async def join(self, *, channel_name: str, meeting_id: Any, user: Any,
                   request: JoinRequest, grants: Any = None,
                   access: selectors.JoinAccess | None = None) -> dict[str, Any]:
        """Enter the call (or resume a peer) and return the ``rtc:joined`` reply data.

        ``grants`` (`rtc.policy.grants.Grants`, from a join token) decide the host role and whether
        the peer is hidden; None (a signed-in user) leaves both to the meeting's roles.
        ``access``: the user's role and the meeting's capacity as the connection read them
        when it joined the meeting (its permission check); without it, they are read here.
        """
        meeting_id = str(meeting_id)
        current = self._by_channel.get(channel_name)
        if current is not None and not current[1].closed:
            room, peer = current
            if request.resume_peer_id != peer.id:
                raise SignalingError(ErrorCode.INVALID, "already joined")
            return room.joined_reply(peer, resumed=True)
        if access is None or access.meeting_id != meeting_id:
            access = await meeting_access(meeting_id, user)
        while True:
            room = await self._room_for(meeting_id, access.capacity)
            async with room.lock:
                if room.closed:
                    continue  # closed while we waited for the lock: make a new one
                try:
                    if request.resume_peer_id is not None:
                        peer = self._resume(room, channel_name, user, request)
                        return room.joined_reply(peer, resumed=True)
                    peer = self._add_peer(room, channel_name, user, access, request, grants)
                    reply = room.joined_reply(peer, resumed=False)
                finally:
                    if not room.peers:
                        await self._close_room(room)
            await self._announce(room, peer, channel_name)
            return reply

    @staticmethod
    async def _announce(room: Room, peer: Peer, channel_name: str) -> None:
        """``rtc:peerJoined`` to the others, after the room's lock: on Redis a group send waits
        for a round trip, which under the lock queued every join of the meeting behind the
        one before it. Nobody can miss the peer: every socket of the meeting is in its group
        before it joins, so a join decided after this one lists the peer in its reply and one
        decided before gets this event. The group's own members get it at once (in process,
        before anything after this call); a peer already gone by then is not announced."""
        if peer.hidden or peer.closed:
            return
        await notify.broadcast(room.meeting_id, "rtc:peerJoined", {
            "peerId": peer.id, "displayName": peer.display_name, "role": peer.role,
        }, exclude=channel_name)

    async def _room_for(self, meeting_id: str, capacity: int) -> Room:
        """The meeting's open room, opened (router, observers) by the first join that needs
        it. Rooms of different meetings open side by side: at the top of the hour one
        meeting's router, a worker round trip or two, must not hold up every other meeting's
        joins (bench/signaling.py, a burst). The joins that arrive while it opens wait
        together and go on together: queued on the opening's lock they went on one after
        another, a turn of the event loop each (a meeting's tenth join of a burst waited for
        nine turns, up to 120 ms)."""
        room = self._open_room(meeting_id, capacity)
        if room is not None:
            return room
        being_opened = self._being_opened.get(meeting_id)
        if being_opened is not None:
            await being_opened.wait()
            room = self._open_room(meeting_id, capacity)
            if room is not None:
                return room
        async with self._opening.hold(meeting_id):  # none is open: this join opens it, or
            # (when the opening it waited for failed) the first join to come here again
            room = self._open_room(meeting_id, capacity)
            if room is not None:
                return room
            opened = self._being_opened[meeting_id] = asyncio.Event()
            try:
                worker, router = await self.mediasoup.create_router(
                    app_data={"meetingId": meeting_id})
                room = Room(meeting_id=meeting_id, worker=worker, router=router,
                            capacity=capacity)
                self.spread.open_observer(room)
                self._rooms[meeting_id] = room
            finally:
                del self._being_opened[meeting_id]
                opened.set()
            logger.info("room opened [meeting:%s, router:%s, worker:%s]", meeting_id, router.id,
                        worker.pid)
            return room

    def _open_room(self, meeting_id: str, capacity: int) -> Room | None:
        """The meeting's room if it is open (its capacity brought up to date), else None."""
        room = self._rooms.get(meeting_id)
        if room is None or room.closed:
            return None
        room.capacity = capacity
        return room

    def _resume(self, room: Room, channel_name: str, user: Any, request: JoinRequest) -> Peer:
        peer = room.peers.get(request.resume_peer_id or "")
        token_ok = peer is not None and hmac.compare_digest(
            peer.resume_token.encode(), (request.resume_token or "").encode())
        if peer is None or peer.user_id != user.pk or not token_ok:
            raise SignalingError(ErrorCode.NOT_FOUND, "no peer to resume; join again")
        if peer.channel_name and peer.channel_name != channel_name:
            self._by_channel.pop(peer.channel_name, None)
        if peer.grace_task is not None:
            peer.grace_task.cancel()
            peer.grace_task = None
        peer.channel_name = channel_name
        self._by_channel[channel_name] = (room, peer)
        # The new socket holds the user's attendance now (it wrote nothing: the peer held it).
        attendance.release(room.meeting_id, peer.user_id, peer_key(peer.id))
        logger.info("peer resumed [meeting:%s, peer:%s, channel:%s]", room.meeting_id, peer.id,
                    channel_name)
        return peer

    def _add_peer(self, room: Room, channel_name: str, user: Any,
                  access: selectors.JoinAccess,
                  request: JoinRequest, grants: Any = None) -> Peer:
        if user.pk in room.removed_users:
            raise SignalingError(ErrorCode.FORBIDDEN, "the host removed you from this call")
        capacity = min(room.capacity, limits().max_peers_per_meeting)
        if len(room.peers) >= capacity:
            raise SignalingError(ErrorCode.ROOM_FULL, "the call is full")
        is_host = access.is_host if grants is None else grants.host
        peer = Peer(id=str(uuid.uuid4()), user_id=user.pk, display_name=request.display_name,
                    is_host=is_host, resume_token=secrets.token_urlsafe(24),
                    channel_name=channel_name, device=dict(request.device), grants=grants,
                    hidden=bool(grants is not None and grants.hidden))
        room.peers[peer.id] = peer
        self._by_channel[channel_name] = (room, peer)
        logger.info("peer joined [meeting:%s, peer:%s, user:%s, hidden:%s]", room.meeting_id,
                    peer.id, user.pk, peer.hidden)
        return peer

    # -- leaving ------------------------------------------------------------------------------

    async def leave(self, *, channel_name: str) -> dict[str, Any]:
        """``rtc:leave``: the peer's resources go now; the socket stays open."""
        room, peer = self.peer_of(channel_name)
        async with room.lock:
            await self._remove_peer(room, peer, reason="left")
        return {"type": "rtc:left"}

    async def detach(self, *, channel_name: str, grace: bool = True) -> None:
        """The connection closed: keep its peer for the grace period, then remove it (at once
        without ``grace``, e.g. a client cut off for flooding)."""
        found = self._by_channel.pop(channel_name, None)
        if found is None:
            return
        room, peer = found
        if peer.closed or peer.channel_name != channel_name:
            return
        peer.channel_name = None
        seconds = limits().reconnect_grace_seconds if grace else 0
        if seconds > 0 and not await self._may_come_back(room, peer):
            seconds = 0
        if peer.closed or peer.channel_name is not None:
            return  # resumed (or removed) while the database answered: nothing to wait for
        logger.info("peer detached [meeting:%s, peer:%s, grace:%ss]", room.meeting_id, peer.id,
                    seconds)
        if seconds <= 0:
            async with room.lock:
                await self._remove_peer(room, peer, reason="disconnected")
            return
        # The waiting peer keeps its user present: the socket's leave is not written now.
        attendance.hold(room.meeting_id, peer.user_id, peer_key(peer.id))
        peer.grace_task = self._start_task(self._expire(room, peer, seconds))

    @staticmethod
    async def _may_come_back(room: Room, peer: Peer) -> bool:
        """Whether a grace period makes sense: not when the meeting ended or the user may no
        longer join it (removed from it, meeting deleted). A database failure keeps it."""
        try:
            return await user_may_rejoin(room.meeting_id, peer.user_id)
        except Exception:
            logger.exception("rejoin check failed [meeting:%s, peer:%s]", room.meeting_id,
                             peer.id)
            return True

    async def _expire(self, room: Room, peer: Peer, grace: float) -> None:
        await clock.current().sleep(grace)
        async with room.lock:
            if peer.closed or peer.channel_name is not None:
                return
            peer.grace_task = None
            logger.info("peer did not come back [meeting:%s, peer:%s]", room.meeting_id, peer.id)
            await self._remove_peer(room, peer, reason="disconnected")

    async def expire_detached(self) -> int:
        """End the grace period of every detached peer now (shutdown, tests); how many."""
        expired = 0
        for room in list(self._rooms.values()):
            async with room.lock:
                for peer in [p for p in room.peers.values() if p.channel_name is None]:
                    await self._remove_peer(room, peer, reason="disconnected")
                    expired += 1
        return expired

    async def remove_peer_by_host(self, *, channel_name: str, peer_id: str) -> dict[str, Any]:
        """``rtc:hostRemovePeer``: the host ends another peer's presence in the call."""
        room, host = self.peer_of(channel_name)
        if not host.is_host:
            raise SignalingError(ErrorCode.FORBIDDEN, "only the host may remove peers")
        if room.peer(peer_id) is host:
            raise SignalingError(ErrorCode.INVALID, "use rtc:leave to leave")
        await self.remove_peer(meeting_id=room.meeting_id, peer_id=peer_id, by="host",
                               spare_user=host.user_id)
        return {"type": "rtc:hostRemoved", "peerId": peer_id}

    async def remove_peer(self, *, meeting_id: Any, peer_id: str, by: str,
                          spare_user: Any = None) -> Peer:
        """Remove a peer from a live call (host or staff action) and return it.

        The peer gets ``rtc:removed`` (``reason``: ``by``), the others ``rtc:peerLeft`` with
        reason ``removed``; its user may not join this call again while the room lasts, unless
        it is ``spare_user`` (the host removing its own second device).
        """
        room = self.live_room(meeting_id)
        async with room.lock:
            target = room.peer(peer_id)
            if target.user_id != spare_user:
                room.removed_users.add(target.user_id)
            await notify.send_to(target.channel_name, "rtc:removed", {"reason": by})
            await self._remove_peer(room, target, reason="removed")
        return target

    async def mute_track(self, *, meeting_id: Any, producer_id: str) -> Peer:
        """Staff (admin, integrations) pause a producer of a live call as the host's mute
        does, the producer's owner told too; returns the owner."""
        return await self.media.mute_producer(self.live_room(meeting_id), producer_id)

    async def change_grants(self, *, meeting_id: Any, peer_id: str,
                            decide: Callable[[Peer], Grants]
                            ) -> tuple[Peer, list[str], list[str]]:
        """Give a peer of a live call the grants ``decide`` makes from it (under the room
        lock, so changes do not interleave), applied at once (:meth:`apply_grants`); the
        peer and the ids of the producers and consumers that closed."""
        room = self.live_room(meeting_id)
        async with room.lock:
            peer = room.peer(peer_id)
            closed_producers, closed_consumers = await self.media.apply_grants(room, peer,
                                                                               decide(peer))
        return peer, closed_producers, closed_consumers

    async def _remove_peer(self, room: Room, peer: Peer, *, reason: str) -> None:
        """Release everything the peer owns and tell the others; the room lock is held."""
        if peer.closed:
            return
        peer.closed = True
        if peer.grace_task is not None and peer.grace_task is not asyncio.current_task():
            peer.grace_task.cancel()
        peer.grace_task = None
        room.peers.pop(peer.id, None)
        if room.active_speaker == peer.id:
            room.active_speaker = None
        if peer.channel_name:
            self._by_channel.pop(peer.channel_name, None)
        peer.release_media()
        self.spread.release_router(room, peer)
        logger.info("peer left [meeting:%s, peer:%s, reason:%s]", room.meeting_id, peer.id, reason)
        if not peer.hidden:
            await notify.broadcast(room.meeting_id, "rtc:peerLeft",
                                   {"peerId": peer.id, "reason": reason},
                                   exclude=peer.channel_name)
        if attendance.release(room.meeting_id, peer.user_id, peer_key(peer.id)):
            await mark_left(room.meeting_id, peer.user_id)  # its grace ended: really gone
        if not room.peers:
            await self._close_room(room)

    async def _close_room(self, room: Room) -> None:
        if room.closed:
            return
        room.closed = True
        if self._rooms.get(room.meeting_id) is room:
            del self._rooms[room.meeting_id]
        if room.dynacast is not None:
            room.dynacast.close()
        for router in {room.router, *room.routers}:
            if not router.closed:
                router.close()
        logger.info("room closed [meeting:%s, router:%s, routers:%s]", room.meeting_id,
                    room.router.id, len(room.routers))
        signals.send_safely(signals.room_closed, sender=Room, meeting_id=room.meeting_id)

    # -- worker faults ------------------------------------------------------------------------

    async def _on_worker_died(self, worker: Worker) -> None:
        """Move every room of a dead worker to a new router and tell its peers to reconnect
        (only the peers on that worker's routers, when the room has routers elsewhere)."""
        affected = [room for room in list(self._rooms.values())
                    if room.worker is worker or worker in room.workers.values()]
        logger.error("worker died [pid:%s, rooms:%s]", worker.pid, len(affected))
        await asyncio.gather(*(self._rebuild(room, worker) for room in affected))

    async def _rebuild(self, room: Room, worker: Worker) -> None:
        async with room.lock:
            if room.closed:
                return
            outcome = await self.spread.worker_died(room, worker)
            if outcome == "spread":
                return  # the call goes on with its other routers
            if outcome == "failed":  # no new router: the call ends
                for peer in list(room.peers.values()):
                    await notify.send_to(peer.channel_name, "rtc:reconnect",
                                         {"reason": "media_unavailable"})
                    await self._remove_peer(room, peer, reason="media_unavailable")
                await self._close_room(room)
                return
            for peer in room.peers.values():
                await notify.send_to(peer.channel_name, "rtc:reconnect",
                                     {"reason": "media_server_restarted"})

    # -- shutdown and tasks -------------------------------------------------------------------

    async def close_rooms(self, *, reason: str, meeting_ids: Any = None) -> int:
        """End calls here (all, or those of ``meeting_ids``): each peer gets ``rtc:reconnect``
        with ``reason`` and is removed; the number of peers told. A node that drains or lost a
        meeting to another node uses it: the peers rebuild their call wherever it is now."""
        told = 0
        for room in list(self._rooms.values()):
            if meeting_ids is not None and room.meeting_id not in meeting_ids:
                continue
            async with room.lock:
                for peer in list(room.peers.values()):
                    await notify.send_to(peer.channel_name, "rtc:reconnect", {"reason": reason})
                    await self._remove_peer(room, peer, reason=reason)
                    told += 1
                await self._close_room(room)
        return told

    async def close(self) -> None:
        """Close every room and the worker pool (process shutdown, tests)."""
        if self._closed:
            return
        self._closed = True
        await self.close_rooms(reason="server_shutdown")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.mediasoup.close()

    def _start_task(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("room task failed", exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Wait until background work is done: notifications, fault handling, the pool's
        replacements. A peer's reconnect grace period is a timer, not work: it is not waited
        for (end it with :meth:`expire_detached`, or move a test's clock past it)."""
        while True:
            await self.mediasoup.wait_idle()
            waiting = {peer.grace_task for room in self._rooms.values()
                       for peer in room.peers.values()}
            pending = [t for t in self._tasks if not t.done() and t not in waiting]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)
