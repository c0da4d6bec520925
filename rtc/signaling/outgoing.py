"""The outgoing check: every frame a meeting socket sends, validated against its declaration.

Why: the reply and event models (`rtc.signaling.replies`, `rtc.signaling.events`) are only
worth their documents if they say what the server really sends. With the setting
``SIGNALING_CHECK_OUTGOING`` on (the tests turn it on; production leaves it off) each meeting
socket's ASGI ``send`` is wrapped (:meth:`OutgoingCheck.checked`, decided once per socket in
`rtc.websocket.consumer.MeetingConsumer.__call__`, so a socket without the check pays nothing
per message), and the socket shows it each frame it receives (:meth:`OutgoingCheck.saw`; its
``receive`` is left as the server gave it, whose queue the dispatch loop reads directly,
`conference.channels_dispatch`). Each text frame is then read back and checked:

* an event ``{"type", "data"}``: its type is in :data:`EVENTS`, its data fits its model;
* a success reply ``{"requestId"?, "data"}``: the request it answers (the frames the socket
  received are watched too, so the check knows it) has a declared reply model (its route's
  ``reply_schema``, or `rtc.signaling.replies.BUILTIN_REPLIES`) and the data fits it;
* an error reply ``{"requestId"?, "error", "code"}``: ``code`` is an `ErrorCode`.

A frame that fails is refused: :class:`UndeclaredMessage` is raised instead of sending it,
logged at ERROR and kept in :data:`violations` (the test suite fails a test that left one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from conference.errors import ErrorCode
from rtc.signaling.events import EVENTS
from rtc.signaling.payloads import Payload
from rtc.signaling.replies import BUILTIN_REPLIES

__all__ = ["OutgoingCheck", "UndeclaredMessage", "check_frame", "enabled", "reply_model",
           "violations"]

logger = logging.getLogger(__name__)

ERROR_CODES = frozenset(code.value for code in ErrorCode)

violations: list[str] = []
"""Every refused frame of this process, in words (the tests' guard reads and clears it)."""

Send = Callable[[dict[str, Any]], Awaitable[None]]


class UndeclaredMessage(Exception):
    """An outgoing frame that its declaration does not allow."""


def enabled() -> bool:
    """``settings.SIGNALING_CHECK_OUTGOING`` (off unless set; read once per socket)."""
    from django.conf import settings

    return bool(getattr(settings, "SIGNALING_CHECK_OUTGOING", False))


def reply_model(request_type: str) -> type[Payload] | None:
    """The declared model of the success reply to ``request_type`` (None: undeclared)."""
    from rtc.signaling.routes import ROUTES

    route = ROUTES.get(request_type)
    if route is not None:
        return route.reply_schema
    return BUILTIN_REPLIES.get(request_type)


def _refuse(problem: str, text: str) -> UndeclaredMessage:
    message = f"{problem}: {text[:300]}"
    violations.append(message)
    logger.error("outgoing frame refused: %s", message)
    return UndeclaredMessage(message)


def _validate(model: type[Payload], data: Any, what: str, text: str) -> None:
    try:
        model.__pydantic_validator__.validate_python(data)
    except ValidationError as error:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}"
                            for e in error.errors(include_url=False)[:5])
        raise _refuse(f"{what} does not match {model.__name__} ({details})", text) from None


def check_frame(text: str, request_type: str | None) -> None:
    """Check one outgoing text frame (``request_type``: the request a reply answers, if
    known); raise :class:`UndeclaredMessage` when its declaration does not allow it."""
    try:
        message = json.loads(text)
    except ValueError:
        raise _refuse("not JSON", text) from None
    if not isinstance(message, dict):
        raise _refuse("not a JSON object", text)
    if "type" in message:
        name = message["type"]
        if set(message) != {"type", "data"} or not isinstance(message["data"], dict):
            raise _refuse(f"event {name!r} is not {{type, data: object}}", text)
        event = EVENTS.get(name) if isinstance(name, str) else None
        if event is None:
            raise _refuse(f"event {name!r} is not declared (rtc.signaling.events)", text)
        _validate(event.model, message["data"], f"event {name}", text)
        return
    keys = set(message) - {"requestId"}
    request_id = message.get("requestId")
    if request_id is not None and not isinstance(request_id, str):
        raise _refuse("a reply's requestId is not a string", text)
    if keys == {"error", "code"}:
        if not isinstance(message["error"], str) or message["code"] not in ERROR_CODES:
            raise _refuse("an error reply without a message or a known code", text)
        return
    if keys != {"data"} or not isinstance(message["data"], dict):
        raise _refuse("neither an event nor a reply", text)
    if request_type is None:
        raise _refuse("a success reply to no request the socket received", text)
    model = reply_model(request_type)
    if model is None:
        raise _refuse(f"the reply to {request_type!r} is not declared", text)
    _validate(model, message["data"], f"reply to {request_type}", text)


class OutgoingCheck:
    """One socket's check: watches the requests it receives (to know what a reply answers)
    and checks each frame it sends."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}
        """requestId → the type of the request that carried it (last one wins)."""
        self.last: str | None = None
        """The type of the last request received (answers one sent without requestId)."""

    def saw(self, text: str) -> None:
        """A frame the client sent: note its request type (anything unreadable is ignored:
        the socket answers it with an error reply, which needs no request type)."""
        try:
            content = json.loads(text)
        except (ValueError, RecursionError):
            self.last = None
            return
        kind = content.get("type") if isinstance(content, dict) else None
        self.last = kind if isinstance(kind, str) else None
        request_id = content.get("requestId") if isinstance(content, dict) else None
        if isinstance(request_id, str) and self.last is not None:
            self.by_id[request_id] = self.last

    def request_type(self, text: str) -> str | None:
        """The request a reply frame answers."""
        try:
            request_id = json.loads(text).get("requestId")
        except (ValueError, AttributeError):
            return None
        if isinstance(request_id, str):
            return self.by_id.get(request_id)
        return self.last

    def checked(self, send: Send) -> Send:
        """An ASGI socket's ``send`` whose text frames are checked before they go."""

        async def checked_send(message: dict[str, Any]) -> None:
            text = message.get("text") if message.get("type") == "websocket.send" else None
            if text is not None:
                check_frame(text, self.request_type(text))
            await send(message)

        return checked_send
