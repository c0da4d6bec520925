"""Signals of the call layer, for other apps (e.g. integrations' webhooks).

Sent synchronously from the event loop by RoomService: receivers must return at once (queue
work, never touch the database or the network inline). Keyword arguments of both:
`meeting_id` (str), `peer_id`, `user_id`, `producer_id`, `kind` (audio or video) and `source`
(the producer's `appData.source`, "" when none).
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["track_published", "track_unpublished"]

track_published = Signal()
"""A peer's producer was created and announced."""
track_unpublished = Signal()
"""A peer's producer closed, for whatever reason (closed, transport gone, peer left)."""
