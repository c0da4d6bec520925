"""The meeting socket's join flow: admission, the join's database trip, the ``meeting.state``
snapshot, the lobby, and the way out; one :class:`JoinFlow` per socket, which
`rtc.websocket.consumer.MeetingConsumer`'s Channels hooks delegate to.

Connect: the socket is accepted and then, if the user may not join, closed with a 4xxx code
(`rtc.websocket.envelope.CloseCode`), so browsers see why. Before any database work a signed-in
socket takes a slot in the per-user and per-address socket counts (its `rtc.websocket.session
.SocketSession`; 4430 when either is full), and a place among the set-ups in progress
(:data:`connects_in_progress`; 4529 ``server_busy`` beyond ``RTC_MAX_PENDING_CONNECTS``). On a
cluster the meeting's placement starts then too (`rtc.cluster.node.Node.place_ahead`), beside
the socket's Redis and database trips, for the ``rtc:join`` the browser sent as it opened. Then
it enters (:meth:`JoinFlow.enter`): the meeting's group first, then one database trip (access,
role, capacity, presence, the snapshot), shared with the sockets joining at the same moment
(:data:`_joins`), then ``meeting.state``; or it waits in the lobby
(`rtc.websocket.lobby.SocketLobby`) and enters once admitted. (The Redis trips beside the
database trip, the batch waiting for them before it reads, were measured: no faster in a burst
of 200, slower in one of 500; bench/README.md, "Session 16".)

However the socket ends (its close, a server close, a refusal half-way, its task cancelled
without a disconnect), :meth:`JoinFlow.end` gives back its slot, its place in the lobby and its
place in the meeting, once each.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from collab import lobby
from collab.lobby_socket import LobbyWait
from conference.db_threads import db_batches
from conference.errors import ApplicationError, ErrorCode
from conference.outage import UNAVAILABLE, UNAVAILABLE_MESSAGE, is_database_outage
from meetings import joins
from meetings.joins import JoinOutcome, JoinRequest
from meetings.models import Meeting
from meetings.selectors import JoinAccess
from rtc.cluster import local_node
from rtc.lifecycle import shutdown
from rtc.policy.attendance import attendance
from rtc.services.config import limits
from rtc.websocket.envelope import CloseCode, close_code_for
from rtc.websocket.lobby import SocketLobby

if TYPE_CHECKING:
    from conference.batching import ThreadBatches
    from rtc.websocket.consumer import MeetingConsumer

__all__ = ["RETRY_AFTER_SECONDS", "JoinFlow", "connects_in_progress"]

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = (1.0, 4.0)
"""The ``retryAfter`` of a ``server_busy`` refusal is drawn from this range, so the clients
refused together do not all come back together."""


class _ConnectsInProgress:
    """How many sockets of this process are between their accept and their ``meeting.state``
    (waiting for Redis and the database): beyond ``RTC_MAX_PENDING_CONNECTS`` a new socket is
    refused at once as busy, with a retry hint, instead of queueing without bound."""

    def __init__(self) -> None:
        self.count = 0

    def enter(self) -> bool:
        """Count one more set-up; False (nothing counted) when the limit is reached."""
        if self.count >= limits().max_pending_connects:
            return False
        self.count += 1
        return True

    def leave(self) -> None:
        """One set-up finished (joined, waiting in the lobby or refused)."""
        self.count -= 1


connects_in_progress = _ConnectsInProgress()
"""The set-ups in progress of this process."""


class _Lobby(LobbyWait):
    """The join's check found a "lobby" meeting holding this connection (raised inside the
    join's transaction, which writes nothing then; the lobby entry is written after it)."""

    def __init__(self, verdict: lobby.LobbyVerdict, meeting: Meeting) -> None:
        super().__init__(verdict)
        self.meeting = meeting


def _write_joins(entries: list[tuple[JoinFlow, bool]]) -> list[JoinOutcome]:
    """The database trip of a batch of sockets joining (each with its ``record``): their
    outcomes in order (`meetings.joins.participants_join`), a lobby wait turned into
    `LobbyWait` with its lobby entry recorded."""
    requests = [JoinRequest(meeting_id=flow.conn.meeting_id, user=flow.conn.user,
                            record=record, gate=flow.lobby_gate, channel=flow.conn.channel_name)
                for flow, record in entries]
    outcomes = joins.participants_join(requests)
    for index, ((flow, _), outcome) in enumerate(zip(entries, outcomes, strict=True)):
        if isinstance(outcome, _Lobby):
            try:
                verdict = (outcome.verdict if outcome.verdict.denied
                           else flow.lobby.check(outcome.meeting))
                outcomes[index] = LobbyWait(verdict)
            except Exception as error:
                outcomes[index] = error
    return outcomes


JOIN_BATCH_MAX = 100
"""The most joins written in one transaction (bounds how long a batch holds its meetings'
rows)."""

_joins: ThreadBatches[tuple[JoinFlow, bool], tuple[JoinAccess, dict[str, Any]]] = db_batches(
    _write_joins, max_size=JOIN_BATCH_MAX)
"""The join's database trips, taken together (`conference.batching.ThreadBatches`): a socket
that asks while a batch is being written waits for the next batch, which writes every join
that piled up in one transaction, as soon as the database thread is done with the one before;
in a burst the joins share their statements and their commit instead of queueing one by one on
the database thread, and at a steady rate each join goes at once, alone. On PostgreSQL two
batches may be out at once (each locks its meetings' rows in the same order, so they cannot
deadlock; one that needs the other's meetings waits for its commit and then sees its
joins)."""


def _join_meeting(flow: JoinFlow, record: bool) -> Awaitable[tuple[JoinAccess, dict[str, Any]]]:
    """The socket's one database trip, in a batch: may the user join (or must it wait in the
    lobby), its join written when ``record``, its access (role, capacity) and the
    ``meeting.state`` snapshot. Raises `LobbyWait` with the lobby entry recorded when the
    connection must wait, and the refusal of a user who may not join."""
    return _joins.submit((flow, record))


class JoinFlow:
    """One socket's way into its meeting (and out of it)."""

    def __init__(self, conn: MeetingConsumer) -> None:
        self.conn = conn
        self.session = conn.session
        self.lobby = SocketLobby(conn, enter=self.enter)

    # -- in ---------------------------------------------------------------------------------------

    async def admit(self) -> None:
        """After the accept: refuse the socket with its close code, or enter the meeting
        (or its lobby)."""
        conn = self.conn
        user = conn.user
        if user is None or not user.is_authenticated:
            logger.info("meeting=%s refused anonymous connection", conn.meeting_id)
            await self.refuse(conn.scope.get("auth_refusal"), CloseCode.UNAUTHENTICATED)
            return
        grant = conn.join_grant
        if grant is not None and str(grant.meeting_id) != str(conn.meeting_id):
            await self.refuse({"code": str(ErrorCode.TOKEN_WRONG_MEETING),
                               "reason": "the token is for another meeting"}, CloseCode.FORBIDDEN)
            return
        if shutdown.shutting_down():
            await conn.close(code=int(CloseCode.SHUTTING_DOWN))
            return
        refusal = self.session.take_slot()
        if refusal is not None:
            await self.refuse(refusal, CloseCode.TOO_MANY_SOCKETS)
            return
        if not connects_in_progress.enter():
            logger.warning("meeting=%s refused user=%s: %s sockets already being set up",
                           conn.meeting_id, user.pk, connects_in_progress.count)
            await self.refuse_busy()
            return
        try:
            node = local_node()
            if node is None:
                refusal, subscribed = None, await self._subscribe()
            else:  # the Redis trips that do not depend on each other, side by side: the
                # meeting's placement (for the rtc:join the browser sent as the socket
                # opened), the cluster's count of the socket and the meeting's group
                node.place_ahead(str(conn.meeting_id))
                refusal, subscribed = await asyncio.gather(self.session.take_shared_slot(),
                                                           self._subscribe())
            if refusal is not None:
                if subscribed:
                    await self.session.discard_group()
                await self.refuse(refusal, CloseCode.TOO_MANY_SOCKETS)
                return
            if not subscribed:
                await self.refuse_busy()
                return
            await self.enter(subscribed=True)
        finally:
            connects_in_progress.leave()

    async def _subscribe(self) -> bool:
        """Join the meeting's group (before the join is recorded, so no event after the join
        can be missed); False, logged, when the channel layer failed."""
        conn = self.conn
        try:
            await conn.channel_layer.group_add(conn.group_name, conn.channel_name)
        except Exception:
            logger.exception("meeting=%s user=%s could not join the meeting's group",
                             conn.meeting_id, conn.user.pk)
            return False
        return True

    async def enter(self, *, subscribed: bool = False) -> None:
        """Enter the meeting: its group (unless ``subscribed`` already), the presence record,
        the ``meeting.state`` snapshot (or a close with the refusal's code). Right after
        connecting, or once admitted from the lobby. A failure of Redis or of the database is
        a refusal the client is told about (``server_busy``, close 4529), never an unhandled
        error."""
        conn, session = self.conn, self.session
        if not subscribed and not await self._subscribe():
            await self.refuse_busy()
            return
        first = session.hold_attendance()
        try:
            async with attendance.writing(conn.meeting_id, conn.user.pk):
                session.join_access, state = await _join_meeting(self, first)
        except LobbyWait as wait:  # a "lobby" meeting: wait for the host
            await self._undo_join()
            await self.lobby.wait(wait.verdict)
            return
        except ApplicationError as error:
            await self._undo_join()
            logger.info("meeting=%s refused user=%s: %s", conn.meeting_id, conn.user.pk,
                        error.code)
            await conn.close(code=int(close_code_for(error.code)))
            return
        except Exception as error:
            await self._undo_join()
            if is_database_outage(error):
                logger.warning("meeting=%s user=%s not admitted, database unavailable: %s",
                               conn.meeting_id, conn.user.pk, error)
                await self.refuse({"code": UNAVAILABLE, "reason": UNAVAILABLE_MESSAGE},
                                  CloseCode.UNAVAILABLE)
                return
            logger.exception("meeting=%s user=%s join failed", conn.meeting_id, conn.user.pk)
            await self.refuse_busy()
            return
        session.enter()
        if shutdown.shutting_down():  # began while the join was being written
            await conn.leave_and_close(CloseCode.SHUTTING_DOWN)
            return
        logger.info("meeting=%s user=%s connected channel=%s", conn.meeting_id, conn.user.pk,
                    conn.channel_name)
        state.pop("type", None)
        session.told.meeting_state(state.get("participants") or (), state.get("meeting"))
        await self.lobby.join_hosts(state)
        await conn.send_event("meeting.state", state)

    def lobby_gate(self, meeting: Meeting) -> None:
        """Inside the join's transaction (database thread): raise `_Lobby` when this
        connection must wait in the meeting's lobby (no query unless its access is lobby)."""
        verdict = self.lobby.must_wait(meeting)
        if verdict is not None:
            raise _Lobby(verdict, meeting)

    async def _undo_join(self) -> None:
        """Take back what ``enter`` did before its join failed: the group membership and the
        presence (a leave is written when this socket was the user's only holder)."""
        await self.session.discard_group()
        await self.session.release_attendance()

    # -- refusals ---------------------------------------------------------------------------------

    async def refuse(self, refusal: dict[str, Any] | None, default_code: int) -> None:
        """Close a refused connection; a join token's refusal is first sent as an `error` event
        and given as the close reason, so the client can tell why (daphne drops reasons)."""
        conn = self.conn
        if refusal is None:
            await conn.close(code=int(default_code))
            return
        code = int(refusal.get("closeCode") or default_code)
        await conn.send_event("error", {k: v for k, v in refusal.items() if k != "closeCode"})
        await conn.close(code=code, reason=str(refusal["reason"])[:120])

    async def refuse_busy(self) -> None:
        """Refuse a socket the server cannot take now: an ``error`` event ``server_busy``
        with ``retryAfter`` seconds, then close 4529."""
        retry_after = round(random.uniform(*RETRY_AFTER_SECONDS), 1)
        await self.refuse({"code": "server_busy", "retryAfter": retry_after,
                           "reason": "the server is busy, retry shortly"}, CloseCode.BUSY)

    # -- out --------------------------------------------------------------------------------------

    async def disconnected(self, code: int) -> None:
        """The client's close: out of the lobby, out of the meeting (group, disconnect hooks,
        attendance). Shielded: when the server gives up waiting for a closed socket's task
        (daphne cancels it after ``application_close_timeout``), the attendance is still
        written."""
        conn, session = self.conn, self.session
        session.release_slot()
        if session.joined:
            logger.info("meeting=%s user=%s socket closed code=%s leaving=%s", conn.meeting_id,
                        conn.user.pk, code, session.leaving)
        await asyncio.shield(self.lobby.leave())
        await asyncio.shield(session.leave())

    async def end(self) -> None:
        """The socket's task ended, however (the client's close, an exception in ``connect``,
        the task cancelled by the server, which then never delivers the disconnect): its slot
        is given back, and a socket still in the lobby or in its meeting leaves it as a close
        would have."""
        conn, session = self.conn, self.session
        session.release_slot()
        if self.lobby.waiting:  # ended without its disconnect while waiting
            try:
                await asyncio.shield(self.lobby.leave())
            except Exception:
                logger.exception("meeting=%s user=%s leaving the lobby failed",
                                 conn.meeting_id, conn.user.pk)
        if session.joined:  # ended without its disconnect
            try:
                await asyncio.shield(session.leave())
            except Exception:
                logger.exception("meeting=%s user=%s leaving after the task ended failed",
                                 conn.meeting_id, conn.user.pk)
