"""Live-room operations for the API: snapshot calls, mute, remove, change grants, end.

The calls live in the RoomService of the serving process, on its event loop; these coroutines
run there (the sync API views call them through `async_to_sync`, which hands them to that
loop). Muting and removing reuse the staff actions of :mod:`rtc.live`; changing a connected
peer's grants records them in :data:`rtc.grants.grant_store` (so they outlive a reconnect with
the old token) and applies them at once: producers no longer allowed close, consumers close
when subscribing is revoked, and the peer gets ``rtc:grantsUpdated``.
"""

from __future__ import annotations

import logging
from typing import Any

from rtc import live as rtc_live
from rtc.grants import Grants, grant_store
from rtc.services import get_room_service, notify
from rtc.services.rooms import Peer, Room
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["end_call", "mute_track", "remove_peer", "snapshot", "update_grants"]

logger = logging.getLogger(__name__)


def _peer_grants(peer: Peer) -> Grants:
    """The grants a peer acts with (a Django user: everything, host as its role says)."""
    grants = getattr(peer, "grants", None)
    return grants if grants is not None else Grants(host=peer.is_host)


def _track(producer: Any) -> dict[str, Any]:
    return {"id": producer.id, "kind": producer.kind,
            "source": str((producer.app_data or {}).get("source", "")),
            "paused": bool(producer.paused)}


def _peer(peer: Peer) -> dict[str, Any]:
    return {
        "peer_id": peer.id,
        "user_id": peer.user_id,
        "display_name": peer.display_name,
        "role": peer.role,
        "hidden": bool(getattr(peer, "hidden", False)),
        "connected": peer.channel_name is not None,
        "grants": _peer_grants(peer).as_dict(),
        "tracks": [_track(p) for p in peer.producers.values() if not p.closed],
    }


async def snapshot(meeting_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Every live call (of `meeting_ids` when given) with its peers and their tracks."""
    rooms = []
    for room in sorted(get_room_service().rooms.values(), key=lambda r: r.meeting_id):
        if room.closed or (meeting_ids is not None and room.meeting_id not in meeting_ids):
            continue
        peers = sorted(room.peers.values(), key=lambda p: (p.display_name, p.id))
        rooms.append({"meeting_id": room.meeting_id, "peers": [_peer(p) for p in peers]})
    return rooms


def _room(meeting_id: str) -> Room:
    room = get_room_service().rooms.get(str(meeting_id))
    if room is None or room.closed:
        raise SignalingError(ErrorCode.NOT_FOUND, "no live call for that meeting")
    return room


async def mute_track(meeting_id: str, producer_id: str, *, actor: Any) -> dict[str, Any]:
    """Pause a track of the call (the owner can unmute it if its grants allow)."""
    _room(meeting_id)
    owner = await rtc_live.staff_mute_producer(get_room_service(), meeting_id=str(meeting_id),
                                               producer_id=producer_id, actor=actor)
    return _peer(owner)


async def remove_peer(meeting_id: str, peer_id: str, *, actor: Any) -> dict[str, Any]:
    """Remove a peer from the call; its identity may not rejoin this call while it lasts."""
    _room(meeting_id)
    target = await rtc_live.staff_remove_peer(get_room_service(), meeting_id=str(meeting_id),
                                              peer_id=peer_id, actor=actor)
    return {"peer_id": target.id, "removed": True}


def _merge(current: Grants, changes: dict[str, Any]) -> Grants:
    if "hidden" in changes and changes["hidden"] != current.hidden:
        raise SignalingError(ErrorCode.INVALID, "hidden cannot change during the call")
    merged = current.as_dict()
    merged.update(changes)
    try:
        return Grants.from_dict(merged)
    except ValueError as error:
        raise SignalingError(ErrorCode.INVALID, str(error)) from None


async def update_grants(meeting_id: str, peer_id: str, changes: dict[str, Any], *,
                        actor: Any) -> dict[str, Any]:
    """Change a connected peer's grants now; returns the peer and what was closed."""
    room = _room(meeting_id)
    async with room.lock:
        peer = room.peer(peer_id)
        grants = _merge(_peer_grants(peer), changes)
        grant_store.set(room.meeting_id, peer.user_id, grants)
        peer.grants = grants  # type: ignore[attr-defined]
        peer.is_host = grants.host
        closed_producers = [pid for pid, producer in list(peer.producers.items())
                            if not grants.may_publish((producer.app_data or {}).get("source"))]
        for producer_id in closed_producers:
            producer = peer.producers.pop(producer_id)
            peer.transport_of.pop(producer_id, None)
            if room.producer_owner.get(producer_id) is peer:
                del room.producer_owner[producer_id]
            producer.close()
            await notify.broadcast(room.meeting_id, "rtc:producerClosed",
                                   {"peerId": peer.id, "producerId": producer_id},
                                   exclude=peer.channel_name)
        closed_consumers = []
        if not grants.subscribe:
            for consumer_id, consumer in list(peer.consumers.items()):
                peer.consumers.pop(consumer_id)
                peer.transport_of.pop(consumer_id, None)
                consumer.close()
                closed_consumers.append(consumer_id)
                await notify.send_to(peer.channel_name, "rtc:consumerClosed",
                                     {"consumerId": consumer_id,
                                      "producerId": consumer.producer_id})
        await notify.send_to(peer.channel_name, "rtc:grantsUpdated", {
            "grants": grants.as_dict(), "closedProducers": closed_producers,
            "closedConsumers": closed_consumers})
    logger.info("grants changed [meeting:%s, peer:%s, grants:%s, closed:%s/%s, by:%s]",
                room.meeting_id, peer.id, grants.as_dict(), len(closed_producers),
                len(closed_consumers), actor)
    return {**_peer(peer), "closed_producers": closed_producers,
            "closed_consumers": closed_consumers}


async def end_call(meeting_id: str) -> int:
    """Remove every peer of the meeting's call now (after the meeting ended); how many."""
    service = get_room_service()
    room = service.rooms.get(str(meeting_id))
    if room is None or room.closed:
        return 0
    removed = 0
    for peer_id in list(room.peers):
        try:
            await service.remove_peer(meeting_id=room.meeting_id, peer_id=peer_id,
                                      by="meeting_ended")
        except SignalingError:  # left meanwhile, or the room closed with its last peer
            continue
        removed += 1
    return removed
