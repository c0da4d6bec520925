"""Limits of the collaboration features, read from settings on every use (tests change them).

Each has a default, so no settings file is required; ``conference/settings.py`` fills them
from environment variables of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

__all__ = ["CollabLimits", "collab_limits"]


@dataclass(frozen=True, slots=True)
class CollabLimits:
    """What one socket and one meeting may send and keep."""

    chat_max_chars: int = 2000
    """Longest chat message (``CHAT_MAX_CHARS``); longer ones get ``invalid``."""
    chat_per_second: float = 1.0
    """Sustained chat messages per socket (``CHAT_MESSAGES_PER_SECOND``)."""
    chat_burst: int = 5
    """Chat messages a socket may send at once (``CHAT_BURST``)."""
    chat_history: int = 500
    """Most recent messages ``chat:history`` returns (``CHAT_HISTORY_LIMIT``)."""
    reactions_per_second: float = 1.0
    """Sustained reactions and hand changes per socket (``REACTIONS_PER_SECOND``)."""
    reaction_burst: int = 5
    """Reactions and hand changes at once (``REACTION_BURST``)."""
    board_ops_per_second: float = 10.0
    """Sustained whiteboard changes per socket (``WHITEBOARD_OPS_PER_SECOND``)."""
    board_burst: int = 30
    """Whiteboard changes at once (``WHITEBOARD_BURST``)."""
    board_pointer_per_second: float = 20.0
    """Pointer positions per socket and second (not stored)."""
    board_max_element_bytes: int = 32 * 1024
    """Largest element (its JSON) a drawing may add (``WHITEBOARD_MAX_ELEMENT_BYTES``)."""
    board_max_elements: int = 5000
    """Elements one board may hold (``WHITEBOARD_MAX_ELEMENTS``)."""
    board_max_bytes: int = 4 * 1024 * 1024
    """JSON bytes one board may hold, all elements together (``WHITEBOARD_MAX_BYTES``)."""


_SETTINGS = {
    "chat_max_chars": "CHAT_MAX_CHARS",
    "chat_per_second": "CHAT_MESSAGES_PER_SECOND",
    "chat_burst": "CHAT_BURST",
    "chat_history": "CHAT_HISTORY_LIMIT",
    "reactions_per_second": "REACTIONS_PER_SECOND",
    "reaction_burst": "REACTION_BURST",
    "board_ops_per_second": "WHITEBOARD_OPS_PER_SECOND",
    "board_burst": "WHITEBOARD_BURST",
    "board_max_element_bytes": "WHITEBOARD_MAX_ELEMENT_BYTES",
    "board_max_elements": "WHITEBOARD_MAX_ELEMENTS",
    "board_max_bytes": "WHITEBOARD_MAX_BYTES",
}


def collab_limits() -> CollabLimits:
    """The limits: each setting named in ``_SETTINGS`` if present, else the default."""
    values = {field: getattr(settings, name) for field, name in _SETTINGS.items()
              if getattr(settings, name, None) is not None}
    return CollabLimits(**values)
