"""The meeting socket's side of the lobby: one :class:`SocketLobby` per socket, held by its
join flow (`rtc.websocket.join.JoinFlow`).

A connection that must wait (`collab.lobby.lobby_verdict`) is accepted but does not enter the
meeting: it is not in the meeting's group, not recorded as present, and gets
``lobby:waiting``; its user's lobby group (``meeting.<id>.lobby.<user>``) carries the host's
answer to it, and the hosts' group (``meeting.<id>.hosts``, which host connections join when
they enter) gets ``lobby:knock`` and ``lobby:left``. Admitted, the connection enters as any
other (``lobby:admitted``, then ``meeting.state``); denied, it gets ``lobby:denied`` and is
closed with 4403. A waiting connection that closes leaves the lobby.

The group names and the notices to the hosts are the lobby feature's (`collab.lobby_socket`,
which the ``lobby:*`` requests share); what one socket does with them is here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async

from collab import lobby
from collab.lobby_socket import display_name_of, hosts_group, lobby_group, notify_hosts
from collab.models import LobbyEntry
from rtc.policy.grants import connection_grants
from rtc.websocket.envelope import CloseCode

if TYPE_CHECKING:
    from rtc.websocket.consumer import MeetingConsumer

__all__ = ["SocketLobby"]

logger = logging.getLogger(__name__)


class SocketLobby:
    """One socket's wait in its meeting's lobby, and its place in the hosts' group."""

    def __init__(self, conn: MeetingConsumer, enter: Callable[[], Awaitable[None]]) -> None:
        self.conn = conn
        self._enter = enter
        """Enters the meeting once admitted (the join flow's ``enter``)."""
        self.waiting = False
        """Waiting for the host's answer."""
        self.host = False
        """Entered as a host: in the hosts' group, gets the lobby notices."""

    def _verdict(self, meeting: Any) -> lobby.LobbyVerdict:
        conn = self.conn
        grants = connection_grants(conn)
        return lobby.lobby_verdict(
            meeting=meeting, user=conn.user, token_guest=conn.join_grant is not None,
            token_host=bool(grants is not None and grants.host))

    def must_wait(self, meeting: Any) -> lobby.LobbyVerdict | None:
        """On the database thread, inside the join's transaction: the verdict when this
        connection must wait in the meeting's lobby, else None (no query unless its access
        is lobby)."""
        verdict = self._verdict(meeting)
        return verdict if verdict.wait else None

    def check(self, meeting: Any) -> lobby.LobbyVerdict:
        """On the database thread, after the join's transaction wrote nothing: whether this
        connection must wait; if so (and it was not denied before) its entry is recorded."""
        verdict = self._verdict(meeting)
        if not verdict.wait or verdict.denied:
            return verdict
        entry = lobby.lobby_enter(meeting_id=meeting.pk, user=self.conn.user,
                                  display_name=display_name_of(self.conn))
        return lobby.LobbyVerdict(wait=True, entry=entry)

    async def wait(self, verdict: lobby.LobbyVerdict) -> None:
        """Hold the connection in the lobby (or refuse it: denied before)."""
        conn = self.conn
        if verdict.denied or verdict.entry is None:
            await conn.send_event("lobby:denied", {})
            await conn.close(code=int(CloseCode.FORBIDDEN))
            return
        self.waiting = True
        await conn.channel_layer.group_add(lobby_group(conn.meeting_id, conn.user.pk),
                                           conn.channel_name)
        logger.info("meeting=%s user=%s waits in the lobby channel=%s", conn.meeting_id,
                    conn.user.pk, conn.channel_name)
        await conn.send_event("lobby:waiting", {"displayName": verdict.entry.display_name})
        # A decision committed before this connection was in its lobby group (the host
        # answered another tab of the same person meanwhile) reached the group without it:
        # read it now. One committed later is sent to the group, which holds it by then.
        status = await database_sync_to_async(lobby.lobby_status)(meeting_id=conn.meeting_id,
                                                                  user_id=conn.user.pk)
        if status != LobbyEntry.Status.WAITING:
            await self.decision({"type": "lobby.decision",
                                 "admitted": status == LobbyEntry.Status.ADMITTED})
            return
        if verdict.entry.waiting_sockets <= 1:  # another tab of the person knocked already
            await notify_hosts(conn.meeting_id, "lobby:knock",
                               lobby.entry_payload(verdict.entry))

    async def decision(self, message: dict[str, Any]) -> None:
        """The host's answer (a channel-layer message ``{"type": "lobby.decision",
        "admitted": bool}``): enter the meeting, or be told no and closed."""
        if not await self._stop_waiting():
            return
        conn = self.conn
        if message.get("admitted"):
            await conn.send_event("lobby:admitted", {})
            await self._enter()
        else:
            await conn.send_event("lobby:denied", {})
            await conn.close(code=int(CloseCode.FORBIDDEN))

    async def leave(self) -> None:
        """The waiting connection ended: out of the lobby; the hosts are told."""
        if not await self._stop_waiting():
            return
        conn = self.conn
        if await database_sync_to_async(lobby.lobby_leave)(meeting_id=conn.meeting_id,
                                                           user_id=conn.user.pk):
            await notify_hosts(conn.meeting_id, "lobby:left", {"userId": conn.user.pk})

    async def _stop_waiting(self) -> bool:
        """Leave the person's lobby group, once: False when the socket was not waiting (the
        decision or the end came already)."""
        if not self.waiting:
            return False
        self.waiting = False
        conn = self.conn
        await conn.channel_layer.group_discard(lobby_group(conn.meeting_id, conn.user.pk),
                                               conn.channel_name)
        return True

    async def join_hosts(self, state: dict[str, Any]) -> None:
        """After entering: a host connection joins the hosts' group."""
        conn = self.conn
        grants = connection_grants(conn)
        meeting = state.get("meeting") or {}
        if meeting.get("hostId") == conn.user.pk or (grants is not None and grants.host):
            self.host = True
            await conn.channel_layer.group_add(hosts_group(conn.meeting_id), conn.channel_name)
