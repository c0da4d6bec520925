"""Live media state for operators: stats samples, a per-room overview, and staff actions.

The RoomService keeps the call model in memory; its numbers that only the worker knows (bytes,
bitrates, packet loss, CPU) need a request per object. :func:`sample_media` asks for all of
them at once, concurrently and under a deadline, and returns what came back: objects that
closed meanwhile or did not answer in time are counted in ``errors`` and left out, never
raised, because monitoring must not fail while calls churn.

Used by ``/metrics`` (:mod:`rtc.operations.metrics`) and by the admin's live page
(:mod:`rtc.operations.admin_page`). Staff actions mirror the host's (``rtc:hostMuteProducer``,
``rtc:hostRemovePeer``) without a host connection: staff act from the admin, not from inside the
call. The integrations' live-room API (`integrations.live_rooms`) mutes and removes through the
same actions (:func:`staff_mute`, :func:`staff_remove`: one cluster operation each, run on the
call's node, answering with the peer as :func:`describe_peer` shows it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rtc.cluster.ops import on_owner, operation
from rtc.policy.grants import Grants
from rtc.services import Peer, Room

if TYPE_CHECKING:
    from rtc.services import RoomService

__all__ = [
    "MediaSample",
    "best_producer_score",
    "consumer_score",
    "describe_peer",
    "live_room",
    "peer_grants",
    "room_overview",
    "sample_media",
    "staff_mute",
    "staff_mute_producer",
    "staff_remove",
    "staff_remove_peer",
]

logger = logging.getLogger(__name__)

SAMPLE_TIMEOUT = 5.0
"""Seconds one sample may take; slower answers are dropped from it."""
SAMPLE_CONCURRENCY = 64
"""Stats requests in flight at once (each worker serves its channel one request at a time)."""


@dataclass
class MediaSample:
    """The worker's figures for every open object at one moment."""

    taken_at: float
    """``time.monotonic()`` when the sample finished."""
    duration: float = 0.0
    """Seconds the sample took."""
    transports: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Transport id → its stats (mediasoup's ``TransportStats`` dict)."""
    producers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Producer id → its RTP stream stats (``inbound-rtp``, one per encoding)."""
    consumers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Consumer id → its stats (``outbound-rtp``, then the producer's ``inbound-rtp``)."""
    workers: dict[int, dict[str, int]] = field(default_factory=dict)
    """Worker pid → getrusage(2) figures (``ru_utime``/``ru_stime`` in ms, ``ru_maxrss`` in KiB)."""
    errors: int = 0
    """Objects whose figures could not be read (closed meanwhile, or too slow)."""


def _open_objects(service: RoomService) -> tuple[list[Any], list[Any], list[Any]]:
    """Open transports, producers and consumers of every room (read in one loop turn)."""
    transports, producers, consumers = [], [], []
    for room in list(service.rooms.values()):
        if room.closed:
            continue
        for peer in list(room.peers.values()):
            transports += [t for t in peer.transports.values() if not t.closed]
            producers += [p for p in peer.producers.values() if not p.closed]
            consumers += [c for c in peer.consumers.values() if not c.closed]
    return transports, producers, consumers


async def sample_media(service: RoomService, *, timeout: float = SAMPLE_TIMEOUT,
                       concurrency: int = SAMPLE_CONCURRENCY) -> MediaSample:
    """Stats of every open transport, producer and consumer, and each worker's resource usage.

    Does not start the worker pool: a process with no calls yet answers with an empty sample.
    """
    started = time.monotonic()
    sample = MediaSample(taken_at=started)
    transports, producers, consumers = _open_objects(service)
    workers = [w for w in service.mediasoup.workers if not w.closed]
    gate = asyncio.Semaphore(max(1, concurrency))

    async def fetch(target: dict[Any, Any], key: Any, call: Awaitable[Any],
                    first_only: bool = False) -> None:
        async with gate:
            result = await call
        target[key] = result[0] if first_only else result

    jobs = [fetch(sample.transports, t.id, t.get_stats(), first_only=True) for t in transports]
    jobs += [fetch(sample.producers, p.id, p.get_stats()) for p in producers]
    jobs += [fetch(sample.consumers, c.id, c.get_stats()) for c in consumers]
    jobs += [fetch(sample.workers, w.pid, w.get_resource_usage()) for w in workers]
    if jobs:
        tasks = [asyncio.ensure_future(job) for job in jobs]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        failed = [t for t in done if t.exception() is not None]
        sample.errors = len(pending) + len(failed)
        if sample.errors:
            logger.debug("media sample incomplete [objects:%s, failed:%s, late:%s]",
                         len(tasks), len(failed), len(pending))
    sample.taken_at = time.monotonic()
    sample.duration = sample.taken_at - started
    return sample


# -- figures of one object ---------------------------------------------------------------------


def best_producer_score(producer: Any) -> int | None:
    """The score (0-10) of a producer's best encoding; None before the worker reported one."""
    scores = [score for item in (producer.score or []) if isinstance(item, dict)
              and isinstance(score := item.get("score"), int)]
    return max(scores) if scores else None


def consumer_score(consumer: Any) -> int | None:
    """The consumer's own score (0-10: how well its receiver gets it); None if unknown."""
    score = consumer.score.get("score") if isinstance(consumer.score, dict) else None
    return score if isinstance(score, int) else None


def _streams(stats: list[dict[str, Any]] | None, kind: str) -> list[dict[str, Any]]:
    return [s for s in stats or [] if s.get("type") == kind]


def _sum(streams: list[dict[str, Any]], key: str) -> int:
    return sum(int(s.get(key) or 0) for s in streams)


def _transport_row(peer: Peer, transport: Any, stats: dict[str, Any] | None) -> dict[str, Any]:
    selected = getattr(transport, "ice_selected_tuple", None) or {}
    return {
        "id": transport.id,
        "direction": peer.direction(transport.id) or "",
        "iceState": getattr(transport, "ice_state", ""),
        "dtlsState": getattr(transport, "dtls_state", ""),
        "remote": f"{selected.get('remoteIp', '')}:{selected.get('remotePort', '')}"
                  f"/{selected.get('protocol', '')}" if selected else "",
        "stats": stats is not None,
        "bytesReceived": (stats or {}).get("bytesReceived", 0),
        "bytesSent": (stats or {}).get("bytesSent", 0),
        "recvBitrate": (stats or {}).get("recvBitrate", 0),
        "sendBitrate": (stats or {}).get("sendBitrate", 0),
    }


def _producer_row(producer: Any, stats: list[dict[str, Any]] | None) -> dict[str, Any]:
    inbound = _streams(stats, "inbound-rtp")
    return {
        "id": producer.id,
        "kind": producer.kind,
        "source": str((producer.app_data or {}).get("source", "")),
        "paused": bool(producer.paused),
        "score": best_producer_score(producer),
        "stats": stats is not None,
        "bitrate": _sum(inbound, "bitrate"),
        "packets": _sum(inbound, "packetCount"),
        "packetsLost": _sum(inbound, "packetsLost"),
    }


def _consumer_row(room: Room, consumer: Any, stats: list[dict[str, Any]] | None
                  ) -> dict[str, Any]:
    outbound = _streams(stats, "outbound-rtp")
    owner = room.owner_of(consumer.producer_id)
    return {
        "id": consumer.id,
        "kind": consumer.kind,
        "producerId": consumer.producer_id,
        "from": owner.display_name if owner is not None else "",
        "paused": bool(consumer.paused),
        "producerPaused": bool(consumer.producer_paused),
        "score": consumer_score(consumer),
        "stats": stats is not None,
        "bitrate": _sum(outbound, "bitrate"),
        "packets": _sum(outbound, "packetCount"),
        "packetsLost": _sum(outbound, "packetsLost"),
    }


def room_overview(service: RoomService, sample: MediaSample) -> list[dict[str, Any]]:
    """Every open room with its peers and their media, merged with ``sample``'s figures.

    Plain dicts (JSON-ready, template-ready), rooms by meeting id, peers by display name.
    """
    rooms = []
    for room in sorted(service.rooms.values(), key=lambda r: r.meeting_id):
        if room.closed:
            continue
        peers = []
        for peer in sorted(room.peers.values(), key=lambda p: (p.display_name, p.id)):
            peers.append({
                "id": peer.id,
                "userId": peer.user_id,
                "displayName": peer.display_name,
                "role": peer.role,
                "connected": peer.channel_name is not None,
                "device": dict(peer.device),
                "routerId": peer.router.id if peer.router is not None else None,
                "transports": [_transport_row(peer, t, sample.transports.get(t.id))
                               for t in peer.transports.values()],
                "producers": [_producer_row(p, sample.producers.get(p.id))
                              for p in peer.producers.values()],
                "consumers": [_consumer_row(room, c, sample.consumers.get(c.id))
                              for c in peer.consumers.values()],
            })
        rooms.append({
            "meetingId": room.meeting_id,
            "workerPid": room.worker.pid,
            "routerId": room.router.id,
            "routers": [{"id": router.id, "workerPid": room.workers[router.id].pid,
                         "peers": sum(p.router is router for p in room.peers.values())}
                        for router in room.routers],
            "capacity": room.capacity,
            "peers": peers,
            "counts": room.counts(),
        })
    return rooms


# -- staff actions -------------------------------------------------------------------------------


def live_room(service: RoomService, meeting_id: str) -> Room:
    """The meeting's open room on ``service``; ``not_found`` when it has no live call."""
    return service.live_room(meeting_id)


def peer_grants(peer: Peer) -> Grants:
    """The grants a peer acts with (a Django user: everything, host as its role says)."""
    grants = getattr(peer, "grants", None)
    return grants if grants is not None else Grants(host=peer.is_host)


def describe_peer(peer: Peer) -> dict[str, Any]:
    """A peer of a live call as staff and the live-room API see it: who, its grants, whether
    its socket is connected, its open tracks (the API's ``LivePeer``)."""
    return {
        "peer_id": peer.id,
        "user_id": peer.user_id,
        "display_name": peer.display_name,
        "role": peer.role,
        "hidden": bool(getattr(peer, "hidden", False)),
        "connected": peer.channel_name is not None,
        "grants": peer_grants(peer).as_dict(),
        "tracks": [{"id": p.id, "kind": p.kind,
                    "source": str((p.app_data or {}).get("source", "")),
                    "paused": bool(p.paused)}
                   for p in peer.producers.values() if not p.closed],
    }


async def staff_mute_producer(service: RoomService, *, meeting_id: str, producer_id: str,
                              actor: Any = None) -> Peer:
    """Pause a producer of a live call, as the host's mute does; returns its peer.

    The call is told with ``rtc:producerPaused`` (``byHost``: the client treats staff like
    the host), its owner included, so its UI shows the track muted.
    """
    owner = await service.mute_track(meeting_id=meeting_id, producer_id=producer_id)
    logger.info("staff muted producer [meeting:%s, peer:%s, producer:%s, staff:%s]",
                meeting_id, owner.id, producer_id, getattr(actor, "pk", actor))
    return owner


async def staff_remove_peer(service: RoomService, *, meeting_id: str, peer_id: str,
                            actor: Any = None) -> Peer:
    """Remove a peer from a live call, as the host's removal does; returns it.

    :meth:`RoomService.remove_peer`: the peer gets ``rtc:removed`` (reason ``staff``), the
    others ``rtc:peerLeft``; its user may not join this call again while it lasts.
    """
    target = await service.remove_peer(meeting_id=str(meeting_id), peer_id=peer_id, by="staff")
    logger.info("staff removed peer [meeting:%s, peer:%s, staff:%s]", meeting_id, target.id,
                getattr(actor, "pk", actor))
    return target


async def staff_mute(meeting_id: Any, producer_id: str, *, actor: Any) -> dict[str, Any]:
    """:func:`staff_mute_producer` on the node running the call, whichever node is asked (the
    admin page, the live-room API); the producer's owner, described."""
    return await on_owner(str(meeting_id), "live.mute", meeting_id=str(meeting_id),
                          producer_id=producer_id, actor=getattr(actor, "pk", actor))


async def staff_remove(meeting_id: Any, peer_id: str, *, actor: Any) -> dict[str, Any]:
    """:func:`staff_remove_peer` on the node running the call; the removed peer, described."""
    return await on_owner(str(meeting_id), "live.remove", meeting_id=str(meeting_id),
                          peer_id=peer_id, actor=getattr(actor, "pk", actor))


# -- the same, as cluster operations (rtc.cluster.ops: the admin page reaches any node) -----------


@operation("live.overview")
async def overview_here(service: RoomService) -> dict[str, Any]:
    """This node's :func:`room_overview` with a fresh sample: ``rooms``, ``errors``."""
    sample = await sample_media(service)
    return {"rooms": room_overview(service, sample), "errors": sample.errors}


@operation("live.mute")
async def _mute_here(service: RoomService, meeting_id: str, producer_id: str,
                     actor: Any) -> dict[str, Any]:
    return describe_peer(await staff_mute_producer(service, meeting_id=meeting_id,
                                                   producer_id=producer_id, actor=actor))


@operation("live.remove")
async def _remove_here(service: RoomService, meeting_id: str, peer_id: str,
                       actor: Any) -> dict[str, Any]:
    return describe_peer(await staff_remove_peer(service, meeting_id=meeting_id,
                                                 peer_id=peer_id, actor=actor))
