"""MeetingConsumer: the REQ-002 meeting WebSocket at /ws/meetings/<uuid>/.

Connect: the socket is accepted and then, if the user may not join, closed with a 4xxx code
(`rtc.websocket.envelope.CloseCode`), so browsers see why. Before any database work a signed-in
socket takes a slot in the per-user and per-address socket counts (`rtc.websocket.limits`; 4430 when
either is full); the slot is given back exactly once however the socket ends. A joined
connection is in the group `meeting.<id>`, is recorded as present
(`meetings.services.participant_mark_joined`), gets a `meeting.state` snapshot, and relays the
group's meeting events. Requests are validated envelopes dispatched through
`rtc.websocket.envelope.registry`; anything malformed or unknown gets an error reply with its
requestId, never a crash and never internal details.

What a socket holds beyond Channels' own state (its socket slot, rate limit, attendance hold
and call link) is its `rtc.websocket.session.SocketSession`, which gives each back once.

Close: a socket that drops keeps its call peer for the reconnect grace period (the registry's
disconnect hook). A socket whose client said ``rtc:leave`` (and did not ``rtc:join`` again
after it) and then closed is a leave, whatever the close code and however the ``rtc:leave``
itself fared: its peer, if it still has one, leaves at once (`MeetingConsumer.disconnect`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from collab import lobby
from collab.lobby_socket import LobbyMixin, LobbyWait
from conference import log_context
from conference.db_threads import db_call
from conference.errors import ApplicationError, ErrorCode
from conference.outage import UNAVAILABLE, UNAVAILABLE_MESSAGE, is_database_outage
from meetings import events, services
from meetings.models import Meeting
from meetings.selectors import JoinAccess
from rtc.lifecycle import shutdown
from rtc.operations import metrics
from rtc.policy import grants as rtc_grants
from rtc.policy.attendance import attendance
from rtc.services.config import limits
from rtc.signaling import outgoing
from rtc.websocket.envelope import (
    CloseCode,
    HandlerRegistry,
    ProtocolError,
    close_code_for,
    error_reply,
    max_message_chars,
    parse_request,
    registry,
    request_id_of,
    success_reply,
)
from rtc.websocket.event_text import event_text
from rtc.websocket.session import SocketSession

logger = logging.getLogger(__name__)

__all__ = ["MeetingConsumer", "connects_in_progress"]

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


@db_call
def _join_meeting(conn: MeetingConsumer, record: bool) -> tuple[JoinAccess, dict[str, Any]]:
    """The socket's one database trip: may the user join (or must it wait in the lobby), its
    join written when ``record``, its access (role, capacity) and the ``meeting.state``
    snapshot (`meetings.services.participant_join`). Raises `LobbyWait` with the lobby entry
    recorded when the connection must wait."""
    try:
        return services.participant_join(meeting_id=conn.meeting_id, user=conn.user,
                                         record=record, gate=conn._lobby_gate)
    except _Lobby as wait:
        if wait.verdict.denied:
            raise LobbyWait(wait.verdict) from None
        raise LobbyWait(conn._lobby_check(wait.meeting)) from None


class MeetingConsumer(LobbyMixin, AsyncJsonWebsocketConsumer):
    """One client's connection to one meeting."""

    registry: HandlerRegistry = registry

    user: Any
    meeting_id: Any
    group_name: str
    join_grant: Any = None
    """The verified join token (set by `rtc.websocket.auth`), None for a Django login."""
    join_access: JoinAccess | None = None
    """The user's role and the meeting's capacity, read when the socket joined (kept current
    by ``meeting.updated``; None: ``rtc:join`` reads them again)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = SocketSession(self)

    @property
    def joined(self) -> bool:
        """In the meeting (its group, its attendance held), until it leaves."""
        return self.session.joined

    @property
    def leaving(self) -> bool:
        """The client sent ``rtc:leave`` (and no ``rtc:join`` since): its close is a leave."""
        return self.session.leaving

    @property
    def flooded(self) -> bool:
        """Cut off for flooding: its call peer is released at once (no reconnect grace)."""
        return self.session.flooded

    # --- lifecycle ------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve the socket. However its task ends (the client's close, an exception in
        ``connect``, the task cancelled by the server, which then never delivers the
        disconnect), its slot in the socket counts is given back, and a socket still in its
        meeting leaves it (group, disconnect hooks, attendance) as a close would have.

        With ``SIGNALING_CHECK_OUTGOING`` (the tests) every frame it sends is checked against
        its declared model (`rtc.signaling.outgoing`); decided here, once per socket."""
        if outgoing.enabled():
            receive, send = outgoing.OutgoingCheck().wrap(receive, send)
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.session.release_slot()
            if self.in_lobby:  # ended without its disconnect while waiting
                try:
                    await asyncio.shield(self._leave_lobby())
                except Exception:
                    logger.exception("meeting=%s user=%s leaving the lobby failed",
                                     self.meeting_id, self.user.pk)
            if self.joined:  # ended without its disconnect
                try:
                    await asyncio.shield(self.session.leave())
                except Exception:
                    logger.exception("meeting=%s user=%s leaving after the task ended failed",
                                     self.meeting_id, self.user.pk)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-message ``close_old_connections``.

        Every ORM call of this consumer runs through ``database_sync_to_async``, which already
        closes stale connections before and after each call. The extra call Channels makes for
        every message queued one more job on the single database thread per WebSocket frame:
        under load (bench/signaling.py, 200 peers) that queue was the main source of latency.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        """Accept, then join the meeting or close with the refusal's code."""
        self.user = self.scope.get("user")
        self.meeting_id = self.scope["url_route"]["kwargs"]["meeting_id"]
        self.group_name = events.meeting_group_name(self.meeting_id)
        self.join_grant = self.scope.get("join_grant")
        log_context.bind(meeting_id=self.meeting_id, user_id=getattr(self.user, "pk", None))
        shutdown.install()
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            logger.info("meeting=%s refused anonymous connection", self.meeting_id)
            await self._refuse(self.scope.get("auth_refusal"), CloseCode.UNAUTHENTICATED)
            return
        if self.join_grant is not None and str(self.join_grant.meeting_id) != str(
            self.meeting_id
        ):
            refusal = {"code": "token_wrong_meeting", "reason": "the token is for another meeting"}
            await self._refuse(refusal, CloseCode.FORBIDDEN)
            return
        if shutdown.shutting_down():
            await self.close(code=int(CloseCode.SHUTTING_DOWN))
            return
        refusal = self.session.take_slot() or await self.session.take_shared_slot()
        if refusal is not None:
            await self._refuse(refusal, CloseCode.TOO_MANY_SOCKETS)
            return
        if not connects_in_progress.enter():
            logger.warning("meeting=%s refused user=%s: %s sockets already being set up",
                           self.meeting_id, self.user.pk, connects_in_progress.count)
            await self._refuse_busy()
            return
        try:
            await self._enter()
        finally:
            connects_in_progress.leave()

    async def _enter(self) -> None:
        """Enter the meeting: its group, the presence record, the ``meeting.state`` snapshot
        (or a close with the refusal's code). Right after connecting, or once admitted from
        the lobby. A failure of Redis or of the database is a refusal the client is told about
        (``server_busy``, close 4529), never an unhandled error."""
        # Subscribe before recording the join, so no event after the join can be missed.
        try:
            await self.channel_layer.group_add(self.group_name, self.channel_name)
        except Exception:
            logger.exception("meeting=%s user=%s could not join the meeting's group",
                             self.meeting_id, self.user.pk)
            await self._refuse_busy()
            return
        first = self.session.hold_attendance()
        try:
            async with attendance.writing(self.meeting_id, self.user.pk):
                self.join_access, state = await _join_meeting(self, first)
        except LobbyWait as wait:  # a "lobby" meeting: wait for the host (collab.lobby_socket)
            await self._undo_join()
            await self._wait_in_lobby(wait.verdict)
            return
        except ApplicationError as error:
            await self._undo_join()
            logger.info("meeting=%s refused user=%s: %s", self.meeting_id, self.user.pk, error.code)
            await self.close(code=int(close_code_for(error.code)))
            return
        except Exception as error:
            await self._undo_join()
            if is_database_outage(error):
                logger.warning("meeting=%s user=%s not admitted, database unavailable: %s",
                               self.meeting_id, self.user.pk, error)
                await self._refuse({"code": UNAVAILABLE, "reason": UNAVAILABLE_MESSAGE},
                                   CloseCode.UNAVAILABLE)
                return
            logger.exception("meeting=%s user=%s join failed", self.meeting_id, self.user.pk)
            await self._refuse_busy()
            return
        self.session.enter()
        if shutdown.shutting_down():  # began while the join was being written
            await self.leave_and_close(CloseCode.SHUTTING_DOWN)
            return
        logger.info(
            "meeting=%s user=%s connected channel=%s",
            self.meeting_id,
            self.user.pk,
            self.channel_name,
        )
        state.pop("type", None)
        await self._join_hosts(state)
        await self.send_event("meeting.state", state)

    async def _refuse_busy(self) -> None:
        """Refuse a socket the server cannot take now: an ``error`` event ``server_busy``
        with ``retryAfter`` seconds, then close 4529."""
        retry_after = round(random.uniform(*RETRY_AFTER_SECONDS), 1)
        await self._refuse({"code": "server_busy", "retryAfter": retry_after,
                            "reason": "the server is busy, retry shortly"}, CloseCode.BUSY)

    def _lobby_gate(self, meeting: Meeting) -> None:
        """Inside the join's transaction (database thread): raise `_Lobby` when this
        connection must wait in the meeting's lobby (no query unless its access is lobby)."""
        grants = rtc_grants.connection_grants(self)
        verdict = lobby.lobby_verdict(
            meeting=meeting, user=self.user, token_guest=self.join_grant is not None,
            token_host=bool(grants is not None and grants.host))
        if verdict.wait:
            raise _Lobby(verdict, meeting)

    async def _undo_join(self) -> None:
        """Take back what ``connect`` did before its join failed: the group membership and the
        presence (a leave is written when this socket was the user's only holder)."""
        await self.discard_group()
        await self.session.release_attendance()

    async def discard_group(self) -> None:
        """Leave the meeting's group. The channel layer unreachable (Redis down) must not stop
        the rest of a leave: the call peer's detach and the attendance would be skipped, the
        peer left in the call and the leave never written (found by bench/chaos.py). The
        membership then lapses with the group's expiry, or went with a restarted Redis."""
        try:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
        except Exception as error:
            logger.warning("meeting=%s user=%s group not left, channel layer unavailable: %r",
                           self.meeting_id, self.user.pk, error)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close from the server's end; the socket stops counting against the limits now,
        not when the client's close comes back."""
        self.session.release_slot()
        await super().close(code=code, reason=reason)

    async def _refuse(self, refusal: dict[str, Any] | None, default_code: int) -> None:
        """Close a refused connection; a join token's refusal is first sent as an `error` event
        and given as the close reason, so the client can tell why (daphne drops reasons)."""
        if refusal is None:
            await self.close(code=int(default_code))
            return
        code = int(refusal.get("closeCode") or default_code)
        await self.send_event("error", {k: v for k, v in refusal.items() if k != "closeCode"})
        await self.close(code=code, reason=str(refusal["reason"])[:120])

    async def disconnect(self, code: int) -> None:
        """Leave the group, run the registry's disconnect hooks, record the leave.

        Shielded: when the server gives up waiting for a closed socket's task (daphne cancels
        it after ``application_close_timeout``), the attendance is still written.
        """
        self.session.release_slot()
        if self.joined:
            logger.info("meeting=%s user=%s socket closed code=%s leaving=%s", self.meeting_id,
                        self.user.pk, code, self.leaving)
        await asyncio.shield(self._leave_lobby())
        await asyncio.shield(self.session.leave())

    async def leave_and_close(self, code: int) -> None:
        """Leave the meeting now (not when the client gets round to closing) and close."""
        await self.session.leave()
        # int(): daphne's autobahn refuses int subclasses such as IntEnum members.
        await self.close(code=int(code))

    # --- client to server -----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Rate-limit, size-check and decode a frame; errors get a reply, not a closed socket,
        unless the client keeps flooding (then it is cut off, `SocketSession.take_frame`)."""
        if not self.joined:
            return
        allowed = self.session.take_frame()
        if allowed is None:
            logger.warning("meeting=%s user=%s cut off: flooding the socket", self.meeting_id,
                           self.user.pk)
            await self.leave_and_close(CloseCode.TOO_MANY_REQUESTS)
            return
        if text_data is None:
            await self.send_json(
                error_reply(None, "Binary frames are not supported.", ErrorCode.INVALID)
            )
            return
        if len(text_data) > max_message_chars():
            await self.send_json(error_reply(None, "Message too large.", ErrorCode.INVALID))
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            await self.send_json(error_reply(None, "Malformed JSON.", ErrorCode.INVALID))
            return
        if not allowed:
            await self.send_json(error_reply(
                request_id_of(content), "Too many messages, slow down.", ErrorCode.LIMIT))
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Validate the envelope, dispatch to the registered handler, reply."""
        try:
            request = parse_request(content, known_types=self.registry.types)
        except ProtocolError as error:
            await self.send_json(error_reply(error.request_id, error.message, str(error.code)))
            return
        self.session.note_request(request.type)
        handler = self.registry.get(request.type)
        if handler is None:  # unregistered between validation and dispatch
            await self.send_json(
                error_reply(request.request_id, "Unknown message type.", ErrorCode.UNKNOWN_TYPE)
            )
            return
        started = time.perf_counter()
        try:
            self.session.take_request(request.type)
            data = await handler(self, request)
        except ApplicationError as error:
            reply = error_reply(request.request_id, error.message, str(error.code))
        except Exception as error:
            if is_database_outage(error):
                logger.warning("meeting=%s user=%s %s: database unavailable: %s",
                               self.meeting_id, self.user.pk, request.type, error)
                reply = error_reply(request.request_id, UNAVAILABLE_MESSAGE,
                                    ErrorCode.UNAVAILABLE)
            else:
                logger.exception("meeting=%s user=%s handler for %s failed", self.meeting_id,
                                 self.user.pk, request.type)
                reply = error_reply(request.request_id, "Internal error.", ErrorCode.INTERNAL)
        else:
            reply = success_reply(request.request_id, data or {})
        metrics.observe_request(request.type, reply, time.perf_counter() - started)
        log_context.note_reply(reply)
        await self.send_json(reply)

    # --- server to client -----------------------------------------------------------------------

    async def send_event(self, event: str, data: dict[str, Any]) -> None:
        """Push `{"type": event, "data": data}` to this client."""
        await self.send_json({"type": event, "data": data})

    async def broadcast(
        self, event: str, data: dict[str, Any], *, exclude_self: bool = True
    ) -> None:
        """Push an event to the meeting's connections (by default not this one)."""
        exclude = self.channel_name if exclude_self else None
        try:
            await self.channel_layer.group_send(
                self.group_name, events.group_message(event, data, exclude=exclude)
            )
        except Exception:  # the request that broadcasts still gets its reply
            logger.exception("meeting=%s broadcast of %s failed", self.meeting_id, event)

    async def channel_missed(self, message: dict[str, Any]) -> None:
        """This socket fell so far behind that the channel layer dropped messages for it
        (`conference.channel_layers`): tell the client (``events:missed``) to fetch the state
        again (chat history, whiteboard, hands), as after a reconnection."""
        logger.warning("meeting=%s user=%s channel=%s missed %s events", self.meeting_id,
                       self.user.pk, self.channel_name, message.get("count"))
        if self.joined:
            await self.send_event("events:missed", {"count": int(message.get("count") or 0)})

    async def meeting_event(self, message: dict[str, Any]) -> None:
        """Relay a group event; close when the meeting ended or this user was removed."""
        if not self.joined or message.get("exclude") == self.channel_name:
            return
        event, data = message["event"], message.get("data", {})
        if event == events.MEETING_UPDATED and self.join_access is not None:
            self.join_access = self.join_access.updated(data)
        # One encoding per event for all the meeting's sockets (rtc.websocket.event_text).
        await self.send(text_data=event_text(event, data))
        if event == events.MEETING_ENDED:
            await self.leave_and_close(CloseCode.MEETING_ENDED)
        elif event == events.PARTICIPANT_REMOVED and data.get("userId") == self.user.pk:
            await self.leave_and_close(CloseCode.FORBIDDEN)
