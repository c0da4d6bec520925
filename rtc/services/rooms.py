"""The in-memory model of a call: a Room per active meeting, a Peer per participant in it.

Data with lookups that enforce ownership, and the commands that change who owns what. Every id
a client names is resolved here, and only within the caller's own room and (for transports,
producers and consumers it acts on) its own peer, so a request can never reach another
meeting's objects; another peer's object in the same room is ``forbidden``, anything else
``not_found``.

Ownership is kept once. The control layer already knows what lives on each transport
(``Transport.producers``/``consumers``, which drop an object when it closes, however it
closes): a peer keeps only its transports (the one thing the library cannot know is whose
they are) and reads its producers and consumers through them; a transport's direction is in
its ``app_data``. What no single transport knows, which peer owns a producer of the room, is
the room's ``producer_owner``, filled by :meth:`Room.add_producer` and emptied by each
producer's own ``close`` observer event. Nothing outside this module edits these maps: the
service layer (:mod:`rtc.services.media_ops`, :mod:`rtc.services.room_service`) calls the
commands below, and signaling, the admin and the integrations call the service's commands.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rtc.signaling.errors import ErrorCode, SignalingError

if TYPE_CHECKING:
    from mediasoup_ctl import (
        ActiveSpeakerObserver,
        Consumer,
        Producer,
        Router,
        WebRtcTransport,
        Worker,
    )

__all__ = ["Peer", "Room"]


@dataclass(eq=False)
class Peer:
    """One participant's presence in the call, and the media objects it owns."""

    id: str
    user_id: Any
    display_name: str
    is_host: bool
    resume_token: str
    channel_name: str | None
    """The connection it is attached to; None while in the reconnect grace period."""
    device: dict[str, str] = field(default_factory=dict)
    transports: dict[str, WebRtcTransport] = field(default_factory=dict)
    """The peer's transports by id (read it; :meth:`add_transport`, :meth:`drop_transport`
    and :meth:`release_media` change it). A transport that closed under the peer (its router's
    worker died) stays until that is handled: that is how the fault handling finds the peer."""
    connect_timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    """transport id → the deadline for its DTLS connection."""
    grace_task: asyncio.Task[Any] | None = None
    closed: bool = False
    grants: Any = None
    """A join-token peer's `rtc.policy.grants.Grants` (as changed during the call); None for a
    signed-in user, whose meeting role decides."""
    hidden: bool = False
    """Not announced (``rtc:peerJoined``/``rtc:peerLeft``) and not in the others' peer lists."""
    router: Router | None = None
    """The router of the room its transports are on, chosen at its first transport (None
    before, and after that router's worker died)."""

    @property
    def producers(self) -> dict[str, Producer]:
        """Open producers on the peer's transports, by id (the library's own maps)."""
        return {pid: producer for transport in self.transports.values()
                for pid, producer in transport.producers.items()}

    @property
    def consumers(self) -> dict[str, Consumer]:
        """Open consumers on the peer's transports, by id (the library's own maps)."""
        return {cid: consumer for transport in self.transports.values()
                for cid, consumer in transport.consumers.items()}

    def direction(self, transport_id: str) -> str | None:
        """``send`` or ``recv``: what the transport was made for (in its ``app_data``)."""
        transport = self.transports.get(transport_id)
        return None if transport is None else transport.app_data.get("direction")

    @property
    def role(self) -> str:
        """``host`` or ``member``, as the UI shows it."""
        return "host" if self.is_host else "member"

    def info(self) -> dict[str, Any]:
        """The peer as other peers see it (``rtc:joined`` ``peers`` entries)."""
        return {
            "peerId": self.id,
            "displayName": self.display_name,
            "role": self.role,
            "producers": [producer_info(p) for p in self.producers.values()],
        }

    def own_state(self) -> dict[str, Any]:
        """What survives of the peer's own objects (for a resuming client)."""
        return {
            "transports": [{"id": tid, "direction": self.direction(tid)}
                           for tid in self.transports],
            "producers": [producer_info(p) for p in self.producers.values()],
            "consumers": [{"id": c.id, "producerId": c.producer_id,
                           "paused": bool(getattr(c, "paused", False))}
                          for c in self.consumers.values()],
        }

    # -- ownership lookups ----------------------------------------------------------------------

    def transport(self, transport_id: str, direction: str | None = None) -> WebRtcTransport:
        """One of this peer's transports (of ``direction`` when given)."""
        transport = self.transports.get(transport_id)
        if transport is None:
            raise SignalingError(ErrorCode.NOT_FOUND, "transport not found")
        if direction is not None and self.direction(transport_id) != direction:
            raise SignalingError(ErrorCode.INVALID, f"not a {direction} transport")
        return transport

    def consumer(self, consumer_id: str) -> Consumer:
        """One of this peer's consumers."""
        consumer = self.consumers.get(consumer_id)
        if consumer is None:
            raise SignalingError(ErrorCode.NOT_FOUND, "consumer not found")
        return consumer

    def counts(self) -> tuple[int, int, int]:
        """Open transports, producers, consumers."""
        producers = consumers = 0
        for transport in self.transports.values():
            producers += len(transport.producers)
            consumers += len(transport.consumers)
        return len(self.transports), producers, consumers

    # -- commands -------------------------------------------------------------------------------

    def add_transport(self, transport: WebRtcTransport) -> None:
        """The peer owns ``transport`` now (its ``app_data`` says its ``direction``)."""
        self.transports[transport.id] = transport

    def drop_transport(self, transport_id: str) -> list[str]:
        """Close one of the peer's transports (its producers and consumers close with it);
        the ids of the producers that were on it, for the others to be told."""
        transport = self.transports.pop(transport_id)
        self._cancel_timer(transport_id)
        producers = list(transport.producers)
        transport.close()
        return producers

    def close_consumers(self) -> list[Consumer]:
        """Close every consumer of the peer (its subscribing was revoked); the closed ones."""
        consumers = list(self.consumers.values())
        for consumer in consumers:
            consumer.close()
        return consumers

    def release_media(self) -> None:
        """Close everything the peer owns (its transports cascade to the rest)."""
        transports = list(self.transports.values())
        self.forget_media()
        for transport in transports:
            transport.close()

    def forget_media(self) -> None:
        """Let go of the peer's transports without closing them (they closed with their
        router's worker), and of their connect deadlines."""
        for timer in self.connect_timers.values():
            timer.cancel()
        self.connect_timers.clear()
        self.transports.clear()

    def set_connect_timer(self, transport_id: str, timer: asyncio.TimerHandle) -> None:
        """The deadline for a transport's DTLS connection (cancelled when it connects)."""
        self._cancel_timer(transport_id)
        self.connect_timers[transport_id] = timer

    def connected(self, transport_id: str) -> None:
        """A transport's DTLS connected: its deadline is over."""
        self._cancel_timer(transport_id)

    def _cancel_timer(self, transport_id: str) -> None:
        timer = self.connect_timers.pop(transport_id, None)
        if timer is not None:
            timer.cancel()


def producer_info(producer: Producer) -> dict[str, Any]:
    """A producer as other peers see it."""
    return {
        "id": producer.id,
        "kind": producer.kind,
        "appData": dict(producer.app_data or {}),
        "paused": bool(getattr(producer, "paused", False)),
    }


@dataclass(eq=False)
class Room:
    """The call of one meeting: its router (more than one for a big call, each on its own
    worker, see :mod:`rtc.services.spread`), its peers, its speaker observer."""

    meeting_id: str
    worker: Worker
    router: Router
    capacity: int
    observer: ActiveSpeakerObserver | None = None
    observer_opening: asyncio.Task[Any] | None = None
    """The speaker observer being created for a room just opened (the first join's reply
    does not wait for it; an audio producer does)."""
    peers: dict[str, Peer] = field(default_factory=dict)
    producer_owner: dict[str, Peer] = field(default_factory=dict)
    """producer id → the peer that owns it, for every open producer of the room (read it;
    :meth:`add_producer` adds to it, the producer's closing takes it out)."""
    removed_users: set[Any] = field(default_factory=set)
    """Users the host removed from this call; they may not join it again while it lasts."""
    active_speaker: str | None = None
    """The peer id the active speaker observer named last (None when it left)."""
    dynacast: Any = None
    """The room's `rtc.services.dynacast.Dynacast` (follows the current router)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False
    routers: list[Router] = field(default_factory=list)
    """Every open router of the call, the primary one (``router``, with the speaker observer)
    first; more when the call outgrew ``peers_per_router`` (:mod:`rtc.services.spread`)."""
    workers: dict[str, Worker] = field(default_factory=dict)
    """router id → the worker it runs on."""
    pipes: dict[tuple[str, str], asyncio.Future[Any]] = field(default_factory=dict)
    """(producer id, router id) → the pipe producer making that producer available in that
    router (being made, or made); forgotten when the pipe producer closes."""
    spread_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while a peer is given its router (so two peers do not each add a router)."""
    lost_producers: list[tuple[Peer, str]] = field(default_factory=list)
    """(peer, producer id) of producers that closed because their router's worker died, for
    the others to be told when that is handled."""

    def __post_init__(self) -> None:
        if not self.routers:
            self.set_primary(self.worker, self.router)

    def set_primary(self, worker: Worker, router: Router) -> None:
        """Make ``router`` (on ``worker``) the primary router, adding it if it is new."""
        self.worker, self.router = worker, router
        if router in self.routers:
            self.routers.remove(router)
        self.routers.insert(0, router)
        self.workers[router.id] = worker

    def add_router(self, worker: Worker, router: Router) -> None:
        """One more router of the call."""
        self.routers.append(router)
        self.workers[router.id] = worker

    def drop_router(self, router: Router) -> None:
        """Forget a router (closed, or its worker died) and the pipes into it."""
        if router in self.routers:
            self.routers.remove(router)
        self.workers.pop(router.id, None)
        for key in [k for k in self.pipes if k[1] == router.id]:
            del self.pipes[key]

    def router_of(self, producer_id: str) -> Router:
        """The router a producer of the call was made on (its owner's)."""
        owner = self.producer_owner.get(producer_id)
        router = owner.router if owner is not None else None
        return router if router is not None else self.router

    def producer(self, producer_id: str, *, owner: Peer | None = None
                 ) -> tuple[Peer, Producer]:
        """A producer of this room and its peer; with ``owner``, it must be that peer's."""
        peer = self.producer_owner.get(producer_id)
        producer = peer.producers.get(producer_id) if peer is not None else None
        if peer is None or producer is None:
            raise SignalingError(ErrorCode.NOT_FOUND, "producer not found")
        if owner is not None and peer is not owner:
            raise SignalingError(ErrorCode.FORBIDDEN, "that producer belongs to another peer")
        return peer, producer

    def owner_of(self, producer_id: str) -> Peer | None:
        """The peer owning an open producer of the room, if any."""
        return self.producer_owner.get(producer_id)

    def add_producer(self, peer: Peer, producer: Producer) -> None:
        """``peer`` owns ``producer`` (made on one of its transports) until it closes."""
        self.producer_owner[producer.id] = peer

        def forget() -> None:
            if self.producer_owner.get(producer.id) is peer:
                del self.producer_owner[producer.id]

        producer.observer.on("close", forget)

    def forget_media(self) -> None:
        """Every router of the call died: let go of all media (it closed with them)."""
        for peer in self.peers.values():
            peer.forget_media()
            peer.router = None
        self.producer_owner.clear()
        self.pipes.clear()
        self.lost_producers.clear()

    def peer(self, peer_id: str) -> Peer:
        """A peer of this room."""
        peer = self.peers.get(peer_id)
        if peer is None:
            raise SignalingError(ErrorCode.NOT_FOUND, "peer not found")
        return peer

    def joined_reply(self, peer: Peer, *, resumed: bool) -> dict[str, Any]:
        """The ``rtc:joined`` reply for ``peer`` (with its own objects when it resumed)."""
        reply = {
            "type": "rtc:joined",
            "peerId": peer.id,
            "resumeToken": peer.resume_token,
            "role": peer.role,
            "routerRtpCapabilities": self.router.rtp_capabilities,
            "peers": [other.info() for other in self.peers.values()
                      if other is not peer and not other.hidden],
            "activeSpeaker": self.active_speaker,
            "resumed": resumed,
        }
        if resumed:
            reply.update(peer.own_state())
        return reply

    def counts(self) -> dict[str, int]:
        """Peers, transports, producers, consumers of the room."""
        totals = [peer.counts() for peer in self.peers.values()]
        return {
            "peers": len(self.peers),
            "transports": sum(t for t, _, _ in totals),
            "producers": sum(p for _, p, _ in totals),
            "consumers": sum(c for _, _, c in totals),
        }
