"""MeetingConsumer: the meeting WebSocket at /ws/meetings/<uuid>/, as Channels' hooks.

Each hook hands the work to the socket's own objects:

* ``connect``: read the scope, accept, then the join flow (`rtc.websocket.join.JoinFlow`):
  refusals with their close codes (`rtc.websocket.envelope.CloseCode`), the socket slot, the join's
  one database trip, the lobby (`rtc.websocket.lobby.SocketLobby`) and the ``meeting.state``
  snapshot;
* ``receive`` / ``receive_json``: the frame counted against the socket's one rate limit and
  decoded, the request validated and dispatched through `rtc.websocket.envelope.registry`
  (`rtc.websocket.requests`);
* ``disconnect`` and the end of the socket's task: the join flow's way out, which gives back
  what the socket's `rtc.websocket.session.SocketSession` holds (slot, rate limit, attendance
  hold, call link), once;
* group messages (``meeting.event``, ``lobby.decision``, ``channel.missed``): relayed to the
  client.

Close: a socket that drops keeps its call peer for the reconnect grace period (the registry's
disconnect hook). A socket whose client said ``rtc:leave`` (and did not ``rtc:join`` again
after it) and then closed is a leave, whatever the close code and however the ``rtc:leave``
itself fared: its peer, if it still has one, leaves at once (`SocketSession.leave`).
"""

from __future__ import annotations

import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conference import log_context, twisted_write
from meetings import events
from meetings.selectors import JoinAccess
from rtc.lifecycle import shutdown
from rtc.signaling import outgoing
from rtc.websocket.envelope import CloseCode, HandlerRegistry, registry
from rtc.websocket.event_text import event_text
from rtc.websocket.join import JoinFlow, connects_in_progress
from rtc.websocket.reply_text import reply_text
from rtc.websocket.requests import decode_frame, is_request, serve_request
from rtc.websocket.session import SocketSession

logger = logging.getLogger(__name__)

__all__ = ["MeetingConsumer", "connects_in_progress"]


class MeetingConsumer(AsyncJsonWebsocketConsumer):
    """One client's connection to one meeting."""

    registry: HandlerRegistry = registry

    user: Any
    meeting_id: Any
    group_name: str
    join_grant: Any = None
    """The verified join token (set by `rtc.websocket.auth`), None for a Django login."""
    outgoing_check: outgoing.OutgoingCheck | None = None
    """With ``SIGNALING_CHECK_OUTGOING``: the check of the frames this socket sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = SocketSession(self)
        self.join_flow = JoinFlow(self)

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

    @property
    def join_access(self) -> JoinAccess | None:
        """The user's role and the meeting's capacity, read when the socket joined (None:
        ``rtc:join`` reads them again)."""
        return self.session.join_access

    @property
    def lobby_host(self) -> bool:
        """Entered as a host: in the hosts' group (lobby notices)."""
        return self.join_flow.lobby.host

    # --- lifecycle ------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve the socket; however its task ends (even without a disconnect), the join
        flow's way out runs (`JoinFlow.end`).

        With ``SIGNALING_CHECK_OUTGOING`` (the tests) every frame it sends is checked against
        its declared model (`rtc.signaling.outgoing`); decided here, once per socket."""
        if outgoing.enabled():
            self.outgoing_check = outgoing.OutgoingCheck()
            send = self.outgoing_check.checked(send)
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.join_flow.end()

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
        """Accept, then join the meeting or close with the refusal's code (`JoinFlow.admit`)."""
        self.user = self.scope.get("user")
        self.meeting_id = self.scope["url_route"]["kwargs"]["meeting_id"]
        self.group_name = events.meeting_group_name(self.meeting_id)
        self.join_grant = self.scope.get("join_grant")
        log_context.bind(meeting_id=self.meeting_id, user_id=getattr(self.user, "pk", None))
        shutdown.install()
        await self.accept()
        await self.join_flow.admit()

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close from the server's end; the socket stops counting against the limits now,
        not when the client's close comes back."""
        self.session.release_slot()
        await super().close(code=code, reason=reason)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Channels' disconnect without its ``aclose_old_connections``: like the per-message
        call `dispatch` leaves out, it was a trip through a database thread for every socket
        that closed (the ORM calls of the leave close stale connections themselves). This
        consumer keeps no ``groups`` of Channels' own (it adds and leaves its meeting's group
        itself), so the disconnect is the whole of it."""
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        """The client's close: out of the lobby and the meeting (`JoinFlow.disconnected`)."""
        await self.join_flow.disconnected(code)

    async def leave_and_close(self, code: int) -> None:
        """Leave the meeting now (not when the client gets round to closing) and close."""
        await self.session.leave()
        # int(): daphne's autobahn refuses int subclasses such as IntEnum members.
        await self.close(code=int(code))

    # --- client to server -----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A frame of a joined socket: counted, size-checked and decoded
        (`rtc.websocket.requests.decode_frame`), then served."""
        if self.outgoing_check is not None and text_data:
            self.outgoing_check.saw(text_data)
        if not self.joined:
            return
        content = await decode_frame(self, text_data, bytes_data)
        if is_request(content):
            await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Validate the envelope, dispatch it, reply (`rtc.websocket.requests.serve_request`)."""
        await serve_request(self, content)

    async def lobby_decision(self, message: dict[str, Any]) -> None:
        """The host's answer to this waiting socket (`SocketLobby.decision`)."""
        await self.join_flow.lobby.decision(message)

    # --- server to client -----------------------------------------------------------------------

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        """The JSON text of ``content`` (`rtc.websocket.frame_json`), with a join reply's
        router capabilities encoded once per router (`rtc.websocket.reply_text`)."""
        return reply_text(content)

    async def send_reply(self, reply: dict[str, Any]) -> None:
        """A reply frame, sent at once with whatever this turn queued before it on the socket
        (`conference.twisted_write.urgently`): the client waits for it before its next
        request, and the end of a busy turn can be tens of milliseconds away."""
        with twisted_write.urgently():
            await self.send_json(reply)

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
        if self.session.told.covers(event, data):  # a snapshot lists it (rtc.websocket.told)
            return
        access = self.session.join_access
        if event == events.MEETING_UPDATED and access is not None:
            self.session.join_access = access.updated(data)
        # One encoding per event for all the meeting's sockets (rtc.websocket.event_text).
        await self.send(text_data=event_text(event, data))
        if event == events.MEETING_ENDED:
            await self.leave_and_close(CloseCode.MEETING_ENDED)
        elif event == events.PARTICIPANT_REMOVED and data.get("userId") == self.user.pk:
            await self.leave_and_close(CloseCode.FORBIDDEN)
