"""Raised hands: per meeting, the peers with a hand up, in the order they raised it.

Kept in memory beside the call (`rtc.services.rooms`), like everything else about who is in
the call now: a hand belongs to a peer, and a peer that left takes its hand with it (the
queue is pruned against the room's live peers whenever it is read). Reactions are not kept
at all; they only pass through (`collab.signaling`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["HandQueues", "RaisedHand", "hand_queues"]


@dataclass(frozen=True, slots=True)
class RaisedHand:
    """One hand up."""

    peer_id: str
    user_id: Any
    display_name: str
    raised_at: datetime

    def payload(self) -> dict[str, Any]:
        """As events and ``hand:list`` show it."""
        return {"peerId": self.peer_id, "userId": self.user_id,
                "displayName": self.display_name, "raisedAt": self.raised_at.isoformat()}


class HandQueues:
    """The queues of every meeting of this process, by meeting id."""

    def __init__(self) -> None:
        self._queues: dict[str, OrderedDict[str, RaisedHand]] = {}

    def raise_hand(self, meeting_id: Any, *, peer_id: str, user_id: Any,
                   display_name: str) -> tuple[RaisedHand, bool]:
        """Put the peer's hand up (at the end of the queue); False when it already was."""
        queue = self._queues.setdefault(str(meeting_id), OrderedDict())
        existing = queue.get(peer_id)
        if existing is not None:
            return existing, False
        hand = RaisedHand(peer_id=peer_id, user_id=user_id, display_name=display_name,
                          raised_at=datetime.now(UTC))
        queue[peer_id] = hand
        return hand, True

    def lower(self, meeting_id: Any, peer_id: str) -> RaisedHand | None:
        """Take the peer's hand down; None when it was not up."""
        queue = self._queues.get(str(meeting_id))
        if queue is None:
            return None
        hand = queue.pop(peer_id, None)
        if not queue:
            self._queues.pop(str(meeting_id), None)
        return hand

    def queue(self, meeting_id: Any, live_peers: Iterable[str]) -> list[RaisedHand]:
        """The hands up, first raised first, after dropping those of peers gone from
        ``live_peers``."""
        queue = self._queues.get(str(meeting_id))
        if queue is None:
            return []
        live = set(live_peers)
        for peer_id in [p for p in queue if p not in live]:
            del queue[peer_id]
        if not queue:
            self._queues.pop(str(meeting_id), None)
            return []
        return list(queue.values())

    def forget_meeting(self, meeting_id: Any) -> None:
        """Drop a meeting's queue (its call is over)."""
        self._queues.pop(str(meeting_id), None)

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())


hand_queues = HandQueues()
"""The process's raised hands."""
