"""The success replies' ``data`` of the collaboration requests, one model each (named by their
routes in `collab.signaling`; see `rtc.signaling.payloads` for why and how they are checked).
These replies carry no ``type``."""

from __future__ import annotations

from typing import Any

from rtc.signaling.payloads import ChatMessage, Hand, LobbyEntry, Payload

__all__ = ["ChatDeletedReply", "ChatHistoryReply", "ChatSentReply", "HandListReply",
           "HandLoweredReply", "HandRaisedReply", "LobbyDecidedReply", "LobbyListReply",
           "NothingReply", "WhiteboardErasedReply", "WhiteboardSeqReply",
           "WhiteboardStateReply"]


class NothingReply(Payload):
    """An empty reply: done (``reaction:send``, ``whiteboard:pointer``)."""


class ChatSentReply(Payload):
    """``chat:send``: the stored message's id."""

    id: int


class ChatHistoryReply(Payload):
    """``chat:history``: the messages this user may read, oldest first."""

    messages: list[ChatMessage]


class ChatDeletedReply(Payload):
    """``chat:delete``: the deleted message's id."""

    id: int


class HandRaisedReply(Payload):
    """``hand:raise``: raised, and its place in the queue (1 = first)."""

    raised: bool
    position: int


class HandLoweredReply(Payload):
    """``hand:lower``: whose hand, and whether it was up."""

    peer_id: str
    lowered: bool


class HandListReply(Payload):
    """``hand:list``: the hands up, first raised first."""

    hands: list[Hand]


class WhiteboardSeqReply(Payload):
    """``whiteboard:draw`` / ``whiteboard:clear``: the operation's ``seq``."""

    seq: int


class WhiteboardErasedReply(Payload):
    """``whiteboard:erase``: its ``seq`` and the ids erased (``seq`` null: nothing was)."""

    seq: int | None
    erased: list[str]


class WhiteboardStateReply(Payload):
    """``whiteboard:state``: the whole board."""

    seq: int
    cleared_seq: int
    elements: list[dict[str, Any]]


class LobbyListReply(Payload):
    """``lobby:list``: who waits, first come first."""

    waiting: list[LobbyEntry]


class LobbyDecidedReply(Payload):
    """``lobby:admit`` / ``lobby:deny``: whom, and the answer."""

    user_id: int
    admitted: bool
