"""Schemas of the collaboration requests (chat, hands, reactions, whiteboard, lobby).

A frozen dataclass per request and a parser that checks the request's ``data`` with
`rtc.signaling.fields` (unknown keys refused, sizes bounded, ``invalid`` with a readable
message); each route of `collab.signaling` names its parser (`rtc.signaling.routes.route`).
Requests without data use the pydantic model `rtc.signaling.schemas.EmptyRequest`. Limits
that are settings (the chat length) are checked here too, read on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collab.board_elements import parse_element, parse_point
from collab.config import collab_limits
from rtc.signaling.fields import identifier, integer, invalid, only_keys
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
    "parse_chat_delete",
    "parse_chat_send",
    "parse_draw",
    "parse_erase",
    "parse_hand_lower",
    "parse_lobby_decision",
    "parse_pointer",
    "parse_reaction",
]

REACTIONS = ("👍", "👏", "😂", "❤️", "🎉", "😮", "🤔", "👋")
"""The reactions a client may send (a fixed set: nothing else is shown on a tile)."""
MAX_ERASE_IDS = 200



@dataclass(frozen=True, slots=True)
class Request:
    """Base of the parsed collaboration requests."""


@dataclass(frozen=True, slots=True)
class ChatSendRequest(Request):
    """``chat:send``: a message to everyone, or privately to the peer ``to``."""

    text: str
    """Exactly as typed: 1 to ``CHAT_MAX_CHARS`` characters, not only blanks."""
    to: str | None = None
    """The addressee's peer id in this call; None for everyone."""


def parse_chat_send(data: dict[str, Any]) -> ChatSendRequest:
    only_keys(data, frozenset({"text", "to"}), "data")
    text = data.get("text")
    if not isinstance(text, str):
        raise invalid("text is required")
    if not text.strip():
        raise invalid("text must not be empty")
    limit = collab_limits().chat_max_chars
    if len(text) > limit:
        raise invalid(f"text must be at most {limit} characters")
    if "\x00" in text:
        raise invalid("text has a NUL character")
    to = identifier(data, "to") if data.get("to") is not None else None
    return ChatSendRequest(text=text, to=to)


@dataclass(frozen=True, slots=True)
class ChatDeleteRequest(Request):
    """``chat:delete``: the host removes one message for everyone."""

    message_id: int


def parse_chat_delete(data: dict[str, Any]) -> ChatDeleteRequest:
    only_keys(data, frozenset({"id"}), "data")
    return ChatDeleteRequest(
        message_id=integer(data, "id", required=True, minimum=1, maximum=2**53 - 1) or 0)


@dataclass(frozen=True, slots=True)
class HandLowerRequest(Request):
    """``hand:lower``: one's own hand, or (host) the hand of ``peer_id``."""

    peer_id: str | None = None


def parse_hand_lower(data: dict[str, Any]) -> HandLowerRequest:
    only_keys(data, frozenset({"peerId"}), "data")
    peer = identifier(data, "peerId") if data.get("peerId") is not None else None
    return HandLowerRequest(peer_id=peer)


@dataclass(frozen=True, slots=True)
class ReactionRequest(Request):
    """``reaction:send``: one of :data:`REACTIONS`, shown on the sender's tile for a moment."""

    emoji: str


def parse_reaction(data: dict[str, Any]) -> ReactionRequest:
    only_keys(data, frozenset({"emoji"}), "data")
    emoji = data.get("emoji")
    if emoji not in REACTIONS:
        raise invalid("emoji must be one of the offered reactions")
    return ReactionRequest(emoji=emoji)


@dataclass(frozen=True, slots=True)
class WhiteboardDrawRequest(Request):
    """``whiteboard:draw``: add one element (`collab.board_elements.parse_element`)."""

    element: dict[str, Any]


def parse_draw(data: dict[str, Any]) -> WhiteboardDrawRequest:
    only_keys(data, frozenset({"element"}), "data")
    return WhiteboardDrawRequest(element=parse_element(data.get("element")))


@dataclass(frozen=True, slots=True)
class WhiteboardEraseRequest(Request):
    """``whiteboard:erase``: remove elements by id (the eraser, and undo of one's own)."""

    ids: tuple[str, ...]


def parse_erase(data: dict[str, Any]) -> WhiteboardEraseRequest:
    only_keys(data, frozenset({"ids"}), "data")
    ids = data.get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_ERASE_IDS:
        raise invalid(f"ids must be a list of 1 to {MAX_ERASE_IDS} element ids")
    return WhiteboardEraseRequest(
        ids=tuple(dict.fromkeys(identifier({"id": item}, "id") for item in ids)))


@dataclass(frozen=True, slots=True)
class PointerRequest(Request):
    """``whiteboard:pointer``: where this peer points on the board (not stored)."""

    x: float
    y: float


def parse_pointer(data: dict[str, Any]) -> PointerRequest:
    only_keys(data, frozenset({"x", "y"}), "data")
    x, y = parse_point(data)
    return PointerRequest(x=x, y=y)


@dataclass(frozen=True, slots=True)
class LobbyDecisionRequest(Request):
    """``lobby:admit`` / ``lobby:deny``: the host's answer to one waiting person."""

    user_id: int


def parse_lobby_decision(data: dict[str, Any]) -> LobbyDecisionRequest:
    only_keys(data, frozenset({"userId"}), "data")
    return LobbyDecisionRequest(
        user_id=integer(data, "userId", required=True, minimum=1, maximum=2**53 - 1) or 0)
