"""Schemas of the collaboration requests (chat, hands, reactions, whiteboard, lobby).

Declared like the ``rtc:*`` ones (`rtc.signaling.schemas`): a pydantic v2 model per request
(unknown keys refused, strict JSON types, the old readable ``invalid`` messages), named by
its route in `collab.signaling`. Fields whose check is Python (the chat text, whiteboard
elements, erase lists, pointer positions) run it through `rtc.signaling.model.legacy`, so
their messages are unchanged. Limits that are settings (the chat length) are read on every
request.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator, WithJsonSchema

from collab.board_elements import parse_element, parse_point
from collab.config import collab_limits
from rtc.signaling.fields import identifier, invalid
from rtc.signaling.model import OptionalId, Request, Rule, legacy
from rtc.signaling.schemas import EmptyRequest

__all__ = [
    "MAX_ERASE_IDS",
    "REACTIONS",
    "ChatDeleteRequest",
    "ChatSendRequest",
    "EmptyRequest",
    "HandLowerRequest",
    "LobbyDecisionRequest",
    "PointerRequest",
    "ReactionRequest",
    "WhiteboardDrawRequest",
    "WhiteboardEraseRequest",
]

REACTIONS = ("👍", "👏", "😂", "❤️", "🎉", "😮", "🤔", "👋")
"""The reactions a client may send (a fixed set: nothing else is shown on a tile)."""
MAX_ERASE_IDS = 200
MAX_SAFE_INT = 2**53 - 1


def _checked(check: Any, schema: dict[str, Any]) -> tuple[Any, ...]:
    """The metadata of a field checked in Python: the check, its messages, its schema."""
    return (PlainValidator(legacy(check)), Rule("check", check=check), WithJsonSchema(schema))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("text is required")
    if not value.strip():
        raise invalid("text must not be empty")
    limit = collab_limits().chat_max_chars
    if len(value) > limit:
        raise invalid(f"text must be at most {limit} characters")
    if "\x00" in value:
        raise invalid("text has a NUL character")
    return value


class ChatSendRequest(Request):
    """``chat:send``: a message to everyone, or privately to the peer ``to``."""

    text: Annotated[str, *_checked(_text, {
        "type": "string", "minLength": 1,
        "description": "Exactly as typed: 1 to CHAT_MAX_CHARS characters, not only blanks."})]
    to: OptionalId = Field(default=None, description="The addressee's peer id in this call; "
                                                     "absent for everyone.")


MessageId = Annotated[int, Field(ge=1, le=MAX_SAFE_INT),
                      Rule("int", minimum=1, maximum=MAX_SAFE_INT)]


class ChatDeleteRequest(Request):
    """``chat:delete``: the host removes one message for everyone."""

    message_id: MessageId = Field(alias="id")


class HandLowerRequest(Request):
    """``hand:lower``: one's own hand, or (host) the hand of ``peer_id``."""

    peer_id: OptionalId = None


def _emoji(value: Any) -> str:
    if not isinstance(value, str) or value not in REACTIONS:
        raise invalid("emoji must be one of the offered reactions")
    return value


class ReactionRequest(Request):
    """``reaction:send``: one of :data:`REACTIONS`, shown on the sender's tile for a moment."""

    emoji: Annotated[str, *_checked(_emoji, {"enum": list(REACTIONS)})]


class WhiteboardDrawRequest(Request):
    """``whiteboard:draw``: add one element (`collab.board_elements.parse_element`)."""

    element: Annotated[dict[str, Any], *_checked(parse_element, {
        "type": "object", "description": "pen, line, arrow, rect, ellipse or text, in board "
                                         "units (PROTOCOL.md)"})]


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ERASE_IDS:
        raise invalid(f"ids must be a list of 1 to {MAX_ERASE_IDS} element ids")
    return tuple(dict.fromkeys(identifier({"id": item}, "id") for item in value))


class WhiteboardEraseRequest(Request):
    """``whiteboard:erase``: remove elements by id (the eraser, and undo of one's own)."""

    ids: Annotated[tuple[str, ...], *_checked(_ids, {
        "type": "array", "minItems": 1, "maxItems": MAX_ERASE_IDS,
        "items": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}})]


def _x(value: Any) -> float:
    return parse_point({"x": value, "y": 0})[0]


def _y(value: Any) -> float:
    return parse_point({"x": 0, "y": value})[1]


class PointerRequest(Request):
    """``whiteboard:pointer``: where this peer points on the board (not stored)."""

    x: Annotated[float, *_checked(_x, {"type": "number", "minimum": 0})]
    y: Annotated[float, *_checked(_y, {"type": "number", "minimum": 0})]


class LobbyDecisionRequest(Request):
    """``lobby:admit`` / ``lobby:deny``: the host's answer to one waiting person."""

    user_id: MessageId
