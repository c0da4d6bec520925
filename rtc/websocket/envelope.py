"""The meeting WebSocket's message envelope, close codes, and handler registry.

Client requests are `{"type": str, "requestId": str (optional), "data": dict}`. Each request
is answered with the same `requestId` and either `{"data": {...}}` or `{"error": str,
"code": str}`. Server pushes are `{"type": str, "data": {...}}`.

Handlers are registered by type, from any installed app's `signaling` module (imported at
start-up by `rtc.apps.RtcConfig`):

    from rtc.websocket.envelope import Envelope, registry

    @registry.register("rtc:join")
    async def rtc_join(conn: Connection, request: Envelope) -> dict:
        return {"type": "rtc:joined", ...}
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from conference.errors import ApplicationError, ErrorCode

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MAX_REQUEST_ID_LENGTH",
    "CloseCode",
    "Connection",
    "DisconnectHook",
    "Handler",
    "HandlerRegistry",
    "ProtocolError",
    "Envelope",
    "close_code_for",
    "error_reply",
    "max_message_chars",
    "parse_envelope",
    "registry",
    "request_id_of",
    "success_reply",
]

MAX_MESSAGE_CHARS = 64 * 1024
"""Default largest text frame accepted (SDP-sized payloads fit with room to spare)."""


def max_message_chars() -> int:
    """The largest text frame accepted: ``settings.RTC_MAX_MESSAGE_CHARS`` (environment
    ``RTC_MAX_MESSAGE_CHARS``), else :data:`MAX_MESSAGE_CHARS`. Read per frame so tests can
    change it."""
    from django.conf import settings

    return int(getattr(settings, "RTC_MAX_MESSAGE_CHARS", MAX_MESSAGE_CHARS))

MAX_REQUEST_ID_LENGTH = 64
"""A requestId is a correlation token, not a payload."""

TYPE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9:._-]{0,63}")


class CloseCode(IntEnum):
    """WebSocket close codes the meeting socket uses; browsers see them because the socket is
    accepted before it is closed."""

    UNAUTHENTICATED = 4401
    """Not signed in, or the join token is invalid or expired."""
    FORBIDDEN = 4403
    """Not allowed: not invited, a token for another meeting, removed by the host, denied in
    the lobby."""
    NOT_FOUND = 4404
    """No such meeting."""
    FULL = 4409
    """The meeting is full (error code ``full``)."""
    MEETING_ENDED = 4410
    """The meeting ended (also sent after ``meeting.ended``)."""
    TOO_MANY_REQUESTS = 4429
    """The client went on flooding the socket after its requests were refused (`limit`)."""
    TOO_MANY_SOCKETS = 4430
    """The user (or the client address) already holds as many open meeting sockets as
    ``MAX_SOCKETS_PER_USER`` (``MAX_SOCKETS_PER_ADDRESS``) allow; refused before any database
    work (`rtc.websocket.limits`)."""
    BUSY = 4529
    """The server could not take the socket now (its channel layer or database did not
    answer in time, or too many sockets are being set up at once). An ``error`` event with
    code ``server_busy`` and ``retryAfter`` (seconds) comes first. Outside 4400-4499 on
    purpose: clients reconnect (with backoff) rather than give up."""
    UNAVAILABLE = 4502
    """A part the server needs to admit the socket (the database) is briefly unavailable; an
    ``error`` event with code ``unavailable`` comes first. Reconnect shortly (with backoff)."""
    SHUTTING_DOWN = 4503
    """The server is stopping (every open socket, and new ones meanwhile): reconnect shortly.
    Not 1001/1012: daphne's WebSocket library lets an application send only 1000 and 3000-4999."""


_CLOSE_FOR_ERROR = {
    ErrorCode.NOT_AUTHENTICATED: CloseCode.UNAUTHENTICATED,
    ErrorCode.FORBIDDEN: CloseCode.FORBIDDEN,
    ErrorCode.NOT_FOUND: CloseCode.NOT_FOUND,
    ErrorCode.FULL: CloseCode.FULL,
    ErrorCode.GONE: CloseCode.MEETING_ENDED,
}


def close_code_for(code: ErrorCode) -> CloseCode:
    """The close code that refuses a connection for an application error code."""
    return _CLOSE_FOR_ERROR.get(code, CloseCode.FORBIDDEN)


class ProtocolError(ApplicationError):
    """A malformed envelope: the application's error, carrying the requestId when it was
    itself valid so the reply can name it."""

    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.INVALID,
                 request_id: str | None = None) -> None:
        super().__init__(message, code=code)
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class Envelope:
    """A client request's envelope, checked: its type, its data (still raw: the type's route
    validates it) and its requestId. The request models of `rtc.signaling.model` are what the
    data becomes."""

    type: str
    """The message type, e.g. `rtc:join`; registered in `registry`."""
    data: dict[str, Any] = field(default_factory=dict)
    """The request's payload; handlers validate its fields."""
    request_id: str | None = None
    """Echoed in the reply so the client can match it; None when the client sent none."""


class Connection(Protocol):
    """What a handler may use of the connection it serves (MeetingConsumer implements it)."""

    user: Any
    meeting_id: Any
    channel_name: str
    join_grant: Any
    """The verified join token (`integrations.tokens.JoinGrant`) or None for a Django login."""

    async def send_event(self, event: str, data: dict[str, Any]) -> None:
        """Push `{"type": event, "data": data}` to this client."""

    async def broadcast(
        self, event: str, data: dict[str, Any], *, exclude_self: bool = True
    ) -> None:
        """Push an event to every connection of the meeting (by default not this one)."""


Handler = Callable[[Connection, Envelope], Awaitable[dict[str, Any] | None]]
DisconnectHook = Callable[[Connection], Awaitable[None]]


class HandlerRegistry:
    """Maps message types to handlers, and holds hooks run when a joined connection ends."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._rate_limited: set[str] = set()
        self._disconnect_hooks: list[DisconnectHook] = []

    def register(self, message_type: str, *,
                 rate_limited: bool = False) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for `message_type` (each type once).
        ``rate_limited``: each request also takes a token of the socket's request budget
        (`rtc.websocket.rate.SocketRate`; every route of `rtc.signaling.routes` does), not
        only of its frame budget."""
        if not TYPE_PATTERN.fullmatch(message_type):
            raise ValueError(f"invalid message type {message_type!r}")

        def decorator(handler: Handler) -> Handler:
            existing = self._handlers.get(message_type)
            if existing is not None and existing is not handler:
                raise ValueError(f"a handler for {message_type!r} is already registered")
            self._handlers[message_type] = handler
            if rate_limited:
                self._rate_limited.add(message_type)
            else:
                self._rate_limited.discard(message_type)
            return handler

        return decorator

    def unregister(self, message_type: str) -> None:
        """Forget a handler (tests register temporary ones)."""
        self._handlers.pop(message_type, None)
        self._rate_limited.discard(message_type)

    def get(self, message_type: str) -> Handler | None:
        """The handler for `message_type`, if one is registered."""
        return self._handlers.get(message_type)

    def rate_limited(self, message_type: str) -> bool:
        """Whether requests of `message_type` count against the socket's request budget."""
        return message_type in self._rate_limited

    @property
    def types(self) -> frozenset[str]:
        """Every registered message type."""
        return frozenset(self._handlers)

    def on_disconnect(self, hook: DisconnectHook) -> DisconnectHook:
        """Decorator adding a hook awaited when a joined connection closes (e.g. leave room)."""
        if hook not in self._disconnect_hooks:
            self._disconnect_hooks.append(hook)
        return hook

    @property
    def disconnect_hooks(self) -> tuple[DisconnectHook, ...]:
        """The disconnect hooks in registration order."""
        return tuple(self._disconnect_hooks)


registry = HandlerRegistry()
"""The registry the meeting consumer dispatches with."""


def parse_envelope(content: Any, *, known_types: frozenset[str]) -> Envelope:
    """Validate a decoded JSON message as a request envelope.

    Raises ProtocolError (carrying the requestId whenever it was itself valid) for a non-object,
    a bad requestId, a missing or malformed type, a type not in `known_types`, or non-object data.
    """
    if not isinstance(content, dict):
        raise ProtocolError("A message must be a JSON object.")
    raw_id = content.get("requestId")
    request_id: str | None = None
    if raw_id is not None:
        if not isinstance(raw_id, str) or not 0 < len(raw_id) <= MAX_REQUEST_ID_LENGTH:
            raise ProtocolError(
                f"requestId must be a string of 1-{MAX_REQUEST_ID_LENGTH} characters."
            )
        request_id = raw_id
    message_type = content.get("type")
    if not isinstance(message_type, str) or not TYPE_PATTERN.fullmatch(message_type):
        raise ProtocolError("type must be a message type string.", request_id=request_id)
    data = content.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError("data must be a JSON object.", request_id=request_id)
    unknown = set(content) - {"type", "requestId", "data"}
    if unknown:
        raise ProtocolError(
            f"Unexpected fields: {', '.join(sorted(unknown)[:5])}.", request_id=request_id
        )
    if message_type not in known_types:
        raise ProtocolError(
            "Unknown message type.", code=ErrorCode.UNKNOWN_TYPE, request_id=request_id
        )
    return Envelope(type=message_type, data=data, request_id=request_id)


def request_id_of(content: Any) -> str | None:
    """The requestId of a decoded message if it is a valid one, else None (for replies to
    messages refused before their envelope is validated)."""
    if not isinstance(content, dict):
        return None
    raw = content.get("requestId")
    if isinstance(raw, str) and 0 < len(raw) <= MAX_REQUEST_ID_LENGTH:
        return raw
    return None


def success_reply(request_id: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """`{"requestId": ..., "data": ...}` (requestId left out when the client sent none)."""
    reply: dict[str, Any] = {"data": data}
    if request_id is not None:
        reply = {"requestId": request_id, **reply}
    return reply


def error_reply(request_id: str | None, message: str, code: str) -> dict[str, Any]:
    """`{"requestId": ..., "error": ..., "code": ...}` (requestId left out when unknown)."""
    reply: dict[str, Any] = {"error": message, "code": code}
    if request_id is not None:
        reply = {"requestId": request_id, **reply}
    return reply
