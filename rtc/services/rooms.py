"""The in-memory model of a call: a Room per active meeting, a Peer per participant in it.

Plain data with lookups that enforce ownership. Every id a client names is resolved here, and
only within the caller's own room and (for transports, producers and consumers it acts on) its
own peer, so a request can never reach another meeting's objects; another peer's object in the
same room is ``forbidden``, anything else ``not_found``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rtc.signaling.errors import ErrorCode, SignalingError

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
    transports: dict[str, Any] = field(default_factory=dict)
    directions: dict[str, str] = field(default_factory=dict)
    """transport id → ``send`` or ``recv``."""
    producers: dict[str, Any] = field(default_factory=dict)
    consumers: dict[str, Any] = field(default_factory=dict)
    transport_of: dict[str, str] = field(default_factory=dict)
    """producer or consumer id → the id of the transport it lives on."""
    connect_timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    grace_task: asyncio.Task[Any] | None = None
    closed: bool = False
    grants: Any = None
    """A join-token peer's `rtc.grants.Grants` (as changed during the call); None for a
    signed-in user, whose meeting role decides."""
    hidden: bool = False
    """Not announced (``rtc:peerJoined``/``rtc:peerLeft``) and not in the others' peer lists."""
    router: Any = None
    """The router of the room its transports are on, chosen at its first transport (None
    before, and after that router's worker died)."""

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
            "transports": [{"id": tid, "direction": self.directions.get(tid)}
                           for tid in self.transports],
            "producers": [producer_info(p) for p in self.producers.values()],
            "consumers": [{"id": c.id, "producerId": c.producer_id,
                           "paused": bool(getattr(c, "paused", False))}
                          for c in self.consumers.values()],
        }

    # -- ownership lookups ----------------------------------------------------------------------

    def transport(self, transport_id: str, direction: str | None = None) -> Any:
        """One of this peer's transports (of ``direction`` when given)."""
        transport = self.transports.get(transport_id)
        if transport is None:
            raise SignalingError(ErrorCode.NOT_FOUND, "transport not found")
        if direction is not None and self.directions.get(transport_id) != direction:
            raise SignalingError(ErrorCode.INVALID, f"not a {direction} transport")
        return transport

    def consumer(self, consumer_id: str) -> Any:
        """One of this peer's consumers."""
        consumer = self.consumers.get(consumer_id)
        if consumer is None:
            raise SignalingError(ErrorCode.NOT_FOUND, "consumer not found")
        return consumer

    def counts(self) -> tuple[int, int, int]:
        """Open transports, producers, consumers."""
        return len(self.transports), len(self.producers), len(self.consumers)


def producer_info(producer: Any) -> dict[str, Any]:
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
    worker: Any
    router: Any
    capacity: int
    observer: Any = None
    peers: dict[str, Peer] = field(default_factory=dict)
    producer_owner: dict[str, Peer] = field(default_factory=dict)
    """producer id → the peer that owns it, for every open producer of the room."""
    removed_users: set[Any] = field(default_factory=set)
    """Users the host removed from this call; they may not join it again while it lasts."""
    active_speaker: str | None = None
    """The peer id the active speaker observer named last (None when it left)."""
    dynacast: Any = None
    """The room's `rtc.services.dynacast.Dynacast` (follows the current router)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False
    routers: list[Any] = field(default_factory=list)
    """Every open router of the call, the primary one (``router``, with the speaker observer)
    first; more when the call outgrew ``peers_per_router`` (:mod:`rtc.services.spread`)."""
    workers: dict[str, Any] = field(default_factory=dict)
    """router id → the worker it runs on."""
    pipes: dict[tuple[str, str], asyncio.Future[Any]] = field(default_factory=dict)
    """(producer id, router id) → the pipe producer making that producer available in that
    router (being made, or made); forgotten when the pipe producer closes."""
    spread_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    lost_producers: list[tuple[Peer, str]] = field(default_factory=list)
    """(peer, producer id) of producers that closed because their router's worker died, for
    the others to be told when that is handled."""
    """Held while a peer is given its router (so two peers do not each add a router)."""

    def __post_init__(self) -> None:
        if not self.routers:
            self.set_primary(self.worker, self.router)

    def set_primary(self, worker: Any, router: Any) -> None:
        """Make ``router`` (on ``worker``) the primary router, adding it if it is new."""
        self.worker, self.router = worker, router
        if router in self.routers:
            self.routers.remove(router)
        self.routers.insert(0, router)
        self.workers[router.id] = worker

    def add_router(self, worker: Any, router: Any) -> None:
        """One more router of the call."""
        self.routers.append(router)
        self.workers[router.id] = worker

    def drop_router(self, router: Any) -> None:
        """Forget a router (closed, or its worker died) and the pipes into it."""
        if router in self.routers:
            self.routers.remove(router)
        self.workers.pop(router.id, None)
        for key in [k for k in self.pipes if k[1] == router.id]:
            del self.pipes[key]

    def router_of(self, producer_id: str) -> Any:
        """The router a producer of the call was made on (its owner's)."""
        owner = self.producer_owner.get(producer_id)
        router = owner.router if owner is not None else None
        return router if router is not None else self.router

    def producer(self, producer_id: str, *, owner: Peer | None = None) -> tuple[Peer, Any]:
        """A producer of this room and its peer; with ``owner``, it must be that peer's."""
        peer = self.producer_owner.get(producer_id)
        if peer is None or producer_id not in peer.producers:
            raise SignalingError(ErrorCode.NOT_FOUND, "producer not found")
        if owner is not None and peer is not owner:
            raise SignalingError(ErrorCode.FORBIDDEN, "that producer belongs to another peer")
        return peer, peer.producers[producer_id]

    def peer(self, peer_id: str) -> Peer:
        """A peer of this room."""
        peer = self.peers.get(peer_id)
        if peer is None:
            raise SignalingError(ErrorCode.NOT_FOUND, "peer not found")
        return peer

    def counts(self) -> dict[str, int]:
        """Peers, transports, producers, consumers of the room."""
        totals = [peer.counts() for peer in self.peers.values()]
        return {
            "peers": len(self.peers),
            "transports": sum(t for t, _, _ in totals),
            "producers": sum(p for _, p, _ in totals),
            "consumers": sum(c for _, _, c in totals),
        }
