"""The meeting socket's side of the lobby, mixed into `rtc.websocket.consumer.MeetingConsumer`.

A connection that must wait (`collab.lobby.lobby_verdict`) is accepted but does not enter the
meeting: it is not in the meeting's group, not recorded as present, and gets
``lobby:waiting``; its user's lobby group (``meeting.<id>.lobby.<user>``) carries the host's
answer to it, and the hosts' group (``meeting.<id>.hosts``, which host connections join when
they enter) gets ``lobby:knock`` and ``lobby:left``. Admitted, the connection enters as any
other (``lobby:admitted``, then ``meeting.state``); denied, it gets ``lobby:denied`` and is
closed with 4403. A waiting connection that closes leaves the lobby.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from collab import lobby
from collab.models import LobbyEntry
from meetings.events import group_message
from rtc.policy.grants import connection_grants
from rtc.websocket.envelope import CloseCode

__all__ = ["LobbyMixin", "LobbyWait", "display_name_of", "hosts_group", "lobby_group",
           "notify_hosts"]

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


class LobbyMixin:
    """Lobby behaviour of the meeting consumer, which provides ``meeting_id``, ``user``,
    ``channel_name``, ``channel_layer``, ``send_event``, ``close`` and ``_enter``."""

    in_lobby: bool = False
    """Waiting for the host's answer."""
    lobby_host: bool = False
    """Entered as a host: in the hosts' group, gets the lobby notices."""

    def _lobby_check(self, meeting: Any) -> lobby.LobbyVerdict:
        """On the database thread, inside the join's own trip: whether this connection must
        wait; if so (and it was not denied before) its entry is recorded."""
        grants = connection_grants(self)  # type: ignore[arg-type]
        verdict = lobby.lobby_verdict(
            meeting=meeting, user=self.user,
            token_guest=getattr(self, "join_grant", None) is not None,
            token_host=bool(grants is not None and grants.host))
        if not verdict.wait or verdict.denied:
            return verdict
        entry = lobby.lobby_enter(meeting_id=meeting.pk, user=self.user,
                                  display_name=display_name_of(self))
        return lobby.LobbyVerdict(wait=True, entry=entry)

    async def _wait_in_lobby(self, verdict: lobby.LobbyVerdict) -> None:
        """Hold the connection in the lobby (or refuse it: denied before)."""
        if verdict.denied or verdict.entry is None:
            await self.send_event("lobby:denied", {})
            await self.close(code=int(CloseCode.FORBIDDEN))
            return
        self.in_lobby = True
        await self.channel_layer.group_add(lobby_group(self.meeting_id, self.user.pk),
                                           self.channel_name)
        logger.info("meeting=%s user=%s waits in the lobby channel=%s", self.meeting_id,
                    self.user.pk, self.channel_name)
        await self.send_event("lobby:waiting", {"displayName": verdict.entry.display_name})
        # A decision committed before this connection was in its lobby group (the host
        # answered another tab of the same person meanwhile) reached the group without it:
        # read it now. One committed later is sent to the group, which holds it by then.
        status = await database_sync_to_async(lobby.lobby_status)(meeting_id=self.meeting_id,
                                                                  user_id=self.user.pk)
        if status != LobbyEntry.Status.WAITING:
            await self.lobby_decision({"type": "lobby.decision",
                                       "admitted": status == LobbyEntry.Status.ADMITTED})
            return
        if verdict.entry.waiting_sockets <= 1:  # another tab of the person knocked already
            await notify_hosts(self.meeting_id, "lobby:knock",
                               lobby.entry_payload(verdict.entry))

    async def lobby_decision(self, message: dict[str, Any]) -> None:
        """The host's answer (a channel-layer message ``{"type": "lobby.decision",
        "admitted": bool}``): enter the meeting, or be told no and closed."""
        if not self.in_lobby:
            return
        self.in_lobby = False
        await self.channel_layer.group_discard(lobby_group(self.meeting_id, self.user.pk),
                                               self.channel_name)
        if message.get("admitted"):
            await self.send_event("lobby:admitted", {})
            await self._enter()
        else:
            await self.send_event("lobby:denied", {})
            await self.close(code=int(CloseCode.FORBIDDEN))

    async def _leave_lobby(self) -> None:
        """The waiting connection ended: out of the lobby; the hosts are told."""
        if not self.in_lobby:
            return
        self.in_lobby = False
        await self.channel_layer.group_discard(lobby_group(self.meeting_id, self.user.pk),
                                               self.channel_name)
        if await database_sync_to_async(lobby.lobby_leave)(meeting_id=self.meeting_id,
                                                           user_id=self.user.pk):
            await notify_hosts(self.meeting_id, "lobby:left", {"userId": self.user.pk})

    async def _join_hosts(self, state: dict[str, Any]) -> None:
        """After entering: a host connection joins the hosts' group."""
        grants = connection_grants(self)  # type: ignore[arg-type]
        meeting = state.get("meeting") or {}
        if meeting.get("hostId") == self.user.pk or (grants is not None and grants.host):
            self.lobby_host = True
            await self.channel_layer.group_add(hosts_group(self.meeting_id), self.channel_name)
