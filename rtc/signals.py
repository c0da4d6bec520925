"""Signals of the call layer, for other apps (e.g. integrations' webhooks).

Sent synchronously from the event loop by RoomService: receivers must return at once (queue
work, never touch the database or the network inline). Keyword arguments of both:
`meeting_id` (str), `peer_id`, `user_id`, `producer_id`, `kind` (audio or video) and `source`
(the producer's `appData.source`, "" when none).
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

__all__ = ["room_closed", "send_safely", "track_published", "track_unpublished"]

logger = logging.getLogger(__name__)

track_published = Signal()
"""A peer's producer was created and announced."""
track_unpublished = Signal()
"""A peer's producer closed, for whatever reason (closed, transport gone, peer left)."""
room_closed = Signal()
"""A meeting's call ended in this process (its last peer left, or it was handed over); only
the keyword argument ``meeting_id``."""


def send_safely(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send `signal`; a receiver that raises is logged, never allowed to fail the call."""
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error("receiver %r of a call signal failed", receiver, exc_info=result)
