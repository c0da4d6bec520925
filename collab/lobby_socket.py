"""The lobby's groups and notices on the channel layer, shared by the meeting socket's side of
the lobby (`rtc.websocket.lobby.SocketLobby`) and the ``lobby:*`` requests (`collab.signaling`).

A waiting connection is in its user's lobby group (``meeting.<id>.lobby.<user>``), which
carries the host's answer to it; the host connections are in the hosts' group
(``meeting.<id>.hosts``), which gets ``lobby:knock`` and ``lobby:left``.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.layers import get_channel_layer

from collab import lobby
from meetings.events import group_message

__all__ = ["LobbyWait", "display_name_of", "hosts_group", "lobby_group", "notify_hosts"]

logger = logging.getLogger(__name__)


def lobby_group(meeting_id: Any, user_id: Any) -> str:
    """The group of one user's waiting connections to one meeting."""
    return f"meeting.{meeting_id}.lobby.{user_id}"


def hosts_group(meeting_id: Any) -> str:
    """The group of the host connections of a meeting (lobby notices go only to them)."""
    return f"meeting.{meeting_id}.hosts"


def display_name_of(conn: Any) -> str:
    """The name a connection shows before it is in the call: its join token's name, else
    the user's full name or username."""
    grant = getattr(conn, "join_grant", None)
    if grant is not None:
        return grant.display_name[:64]
    user = conn.user
    return " ".join((user.get_full_name() or user.get_username()).split())[:64]


async def notify_hosts(meeting_id: Any, event: str, data: dict[str, Any]) -> None:
    """Send a lobby event to the meeting's host connections (logged, never raised)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(hosts_group(meeting_id), group_message(event, data))
    except Exception:
        logger.exception("meeting=%s lobby notice %s failed", meeting_id, event)


class LobbyWait(Exception):
    """Raised by the join's database trip when the connection must wait in the lobby."""

    def __init__(self, verdict: lobby.LobbyVerdict) -> None:
        super().__init__("wait in the lobby")
        self.verdict = verdict
