"""Live-room operations for the API: snapshot calls, mute, remove, change grants, end.

The calls live in the RoomService of the node owning them, on its event loop; these coroutines
run on the serving loop (the sync API views call them through `async_to_sync`, which hands them
to that loop) and, on a cluster, as operations of :mod:`rtc.cluster.ops`: the snapshot asks
every node for its calls (each labelled ``node``), the actions run on the call's owner,
whichever node the request reached. Muting and removing are the admin's staff actions
(:func:`rtc.operations.media_sampling.staff_mute`, ``staff_remove``), which answer with the
peer as this API describes it (``describe_peer``); changing a connected peer's grants
records them in :data:`rtc.policy.grants.grant_store` on every node (so they outlive a
reconnect with the old token, and a socket served by another node is checked with them) and
applies them at once: producers no longer allowed close, consumers close when subscribing is
revoked, and the peer gets ``rtc:grantsUpdated``.
"""

from __future__ import annotations

import logging
from typing import Any

from rtc.cluster.ops import on_every_node, on_owner, operation
from rtc.operations.media_sampling import describe_peer, peer_grants, staff_mute, staff_remove
from rtc.policy.grants import Grants, grant_store
from rtc.services import Peer, RoomService
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["end_call", "mute_track", "remove_peer", "snapshot", "update_grants"]

logger = logging.getLogger(__name__)

mute_track = staff_mute
"""Pause a track of the call (the owner can unmute it if its grants allow); the owner."""
remove_peer = staff_remove
"""Remove a peer from the call; its identity may not rejoin this call while it lasts."""


async def snapshot(meeting_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Every live call (of `meeting_ids` when given) with its peers and their tracks, from
    every node of the cluster; each call says which ``node`` runs it (``""`` alone)."""
    wanted = sorted(meeting_ids) if meeting_ids is not None else None
    view = await on_every_node("live.snapshot", meeting_ids=wanted)
    rooms = [{**room, "node": node_id} for node_id, part in view.answers for room in part]
    return sorted(rooms, key=lambda r: r["meeting_id"])


@operation("live.snapshot")
async def _snapshot_here(service: RoomService, meeting_ids: list[str] | None = None
                         ) -> list[dict[str, Any]]:
    """This node's calls (of `meeting_ids` when given)."""
    wanted = set(meeting_ids) if meeting_ids is not None else None
    rooms = []
    for room in sorted(service.rooms.values(), key=lambda r: r.meeting_id):
        if room.closed or (wanted is not None and room.meeting_id not in wanted):
            continue
        peers = sorted(room.peers.values(), key=lambda p: (p.display_name, p.id))
        rooms.append({"meeting_id": room.meeting_id, "peers": [describe_peer(p) for p in peers]})
    return rooms


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
                        actor: str) -> dict[str, Any]:
    """Change a connected peer's grants now (on the call's node), then record them on every
    node; returns the peer and what was closed."""
    changed = await on_owner(str(meeting_id), "live.grants", meeting_id=str(meeting_id),
                             peer_id=peer_id, changes=changes, actor=str(actor))
    view = await on_every_node("live.remember_grants", meeting_id=str(meeting_id),
                               user_id=changed["user_id"], grants=changed["grants"])
    if view.missing:
        logger.warning("grants not recorded on nodes %s [meeting:%s, peer:%s]",
                       ",".join(view.missing), meeting_id, peer_id)
    return changed


@operation("live.remember_grants")
async def _remember_grants_here(service: RoomService, meeting_id: str, user_id: Any,
                                grants: dict[str, Any]) -> None:
    """Record changed grants on this node (checked for the sockets it serves)."""
    grant_store.set(meeting_id, user_id, Grants.from_dict(grants))


@operation("live.grants")
async def _update_grants_here(service: RoomService, meeting_id: str, peer_id: str,
                              changes: dict[str, Any], actor: str) -> dict[str, Any]:

    def decide(peer: Peer) -> Grants:
        """The merged grants, recorded before they are applied (a request of the peer's
        checked meanwhile is checked with them)."""
        grants = _merge(peer_grants(peer), changes)
        grant_store.set(str(meeting_id), peer.user_id, grants)
        return grants

    peer, closed_producers, closed_consumers = await service.change_grants(
        meeting_id=meeting_id, peer_id=peer_id, decide=decide)
    logger.info("grants changed [meeting:%s, peer:%s, grants:%s, closed:%s/%s, by:%s]",
                meeting_id, peer.id, peer_grants(peer).as_dict(), len(closed_producers),
                len(closed_consumers), actor)
    return {**describe_peer(peer), "closed_producers": closed_producers,
            "closed_consumers": closed_consumers}


async def end_call(meeting_id: str) -> int:
    """Remove every peer of the meeting's call now (after the meeting ended); how many."""
    return await on_owner(str(meeting_id), "live.end", meeting_id=str(meeting_id))


@operation("live.end")
async def _end_call_here(service: RoomService, meeting_id: str) -> int:
    try:
        room = service.live_room(meeting_id)
    except SignalingError:
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
