"""The collaboration requests of the meeting socket: chat, hands, reactions, whiteboard, lobby.

Declared like the ``rtc:*`` requests (`rtc.signaling.routes.route`: the socket's request
rate, then the schema from `collab.schemas`, then the grant of `rtc.policy.grants`). Each handler
is thin: its own rate (chat, reactions and hands, drawing, pointer: a human pace, far below
the socket's), a service on the database thread, then the event
after the commit: to the meeting's group through the connection's ``broadcast`` (the
channel layer, or whatever delivery the consumer uses), or to one peer.

Events: ``chat:message``, ``chat:deleted``, ``hand:raised``, ``hand:lowered``,
``reaction:shown``, ``whiteboard:op``, ``whiteboard:pointer``, and to hosts ``lobby:knock``,
``lobby:left``, ``lobby:decided`` (rtc/signaling/PROTOCOL.md).
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.dispatch import receiver

from collab import chat, lobby, replies, whiteboard
from collab.access import require_host
from collab.config import collab_limits
from collab.hands import hand_queues
from collab.lobby_socket import display_name_of, lobby_group, notify_hosts
from collab.schemas import (
    ChatDeleteRequest,
    ChatSendRequest,
    EmptyRequest,
    HandLowerRequest,
    LobbyDecisionRequest,
    PointerRequest,
    ReactionRequest,
    WhiteboardDrawRequest,
    WhiteboardEraseRequest,
)
from meetings.models import Meeting
from rtc.policy import grants
from rtc.policy.grants import connection_grants
from rtc.services import Peer, Room, current_room_service, get_room_service, send_to
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.ratelimit import RateLimiter
from rtc.signaling.routes import route
from rtc.signals import room_closed
from rtc.websocket.envelope import Connection, registry

__all__ = ["board_limiter", "chat_limiter", "pointer_limiter", "reaction_limiter"]

logger = logging.getLogger(__name__)

Reply = dict[str, Any]

chat_limiter = RateLimiter()
"""Chat messages per socket."""
reaction_limiter = RateLimiter()
"""Reactions and hand changes per socket."""
board_limiter = RateLimiter()
"""Whiteboard changes per socket."""
pointer_limiter = RateLimiter()
"""Whiteboard pointer positions per socket."""


def _take(limiter: RateLimiter, conn: Connection, rate: float, burst: int, what: str) -> None:
    if not limiter.allow(conn.channel_name, rate=rate, burst=burst):
        raise SignalingError(ErrorCode.LIMIT, f"too many {what}, slow down")


def _service(conn: Connection) -> Any:
    """The RoomService holding the connection's call: the one of the cluster node serving a
    relayed request (`rtc.cluster.relay.RemoteConnection`), else this process's (None before
    any call started here)."""
    return getattr(conn, "room_service", None) or current_room_service()


def _call_peer(conn: Connection) -> tuple[Room, Peer] | None:
    """The connection's room and peer if it is in the call, else None."""
    service = _service(conn)
    if service is None:
        return None
    try:
        return service.peer_of(conn.channel_name)
    except SignalingError:
        return None


def _in_call(conn: Connection) -> tuple[Room, Peer]:
    """The connection's room and peer; ``invalid`` when it has not joined the call."""
    return (_service(conn) or get_room_service()).peer_of(conn.channel_name)


def _host_by_grant(conn: Connection) -> bool | None:
    """The join token's host grant; None for a signed-in user (`collab.access`)."""
    grants = connection_grants(conn)
    return None if grants is None else grants.host


# --- chat ----------------------------------------------------------------------------------------


@route("chat:send", schema=ChatSendRequest, grant=grants.chat, reply=replies.ChatSentReply,
       events=("chat:message",))
async def chat_send(conn: Connection, request: ChatSendRequest) -> Reply:
    """Send a message to everyone, or privately to the peer ``to``; everyone it is for gets
    ``chat:message`` once (a private one: the addressee and the sender)."""
    limits = collab_limits()
    _take(chat_limiter, conn, limits.chat_per_second, limits.chat_burst, "messages")
    found = _call_peer(conn)
    target: Peer | None = None
    if request.to is not None:
        if found is None:
            raise SignalingError(ErrorCode.INVALID, "join the call to send private messages")
        target = found[0].peer(request.to)
        if target.hidden:
            raise SignalingError(ErrorCode.NOT_FOUND, "peer not found")
        if target is found[1]:
            raise SignalingError(ErrorCode.INVALID, "a private message needs another peer")
    name = found[1].display_name if found is not None else display_name_of(conn)
    message = await database_sync_to_async(chat.chat_message_send)(
        meeting_id=conn.meeting_id, author=conn.user, display_name=name, text=request.text,
        recipient_id=target.user_id if target is not None else None,
        recipient_name=target.display_name if target is not None else "")
    payload = chat.message_payload(message, peer_id=found[1].id if found else None,
                                   to_peer_id=target.id if target is not None else None)
    if target is None:
        await conn.broadcast("chat:message", payload, exclude_self=False)
    else:
        await conn.send_event("chat:message", payload)
        await send_to(target.channel_name, "chat:message", payload)
    return {"id": message.pk}


@route("chat:history", schema=EmptyRequest, grant=grants.allowed, reply=replies.ChatHistoryReply)
async def chat_history(conn: Connection, request: EmptyRequest) -> Reply:
    """The messages this connection's user may read, oldest first (the newest
    ``CHAT_HISTORY_LIMIT``)."""
    messages = await database_sync_to_async(chat.chat_history)(
        meeting_id=conn.meeting_id, user=conn.user, limit=collab_limits().chat_history)
    return {"messages": messages}


@route("chat:delete", schema=ChatDeleteRequest, grant=grants.host, reply=replies.ChatDeletedReply,
       events=("chat:deleted",))
async def chat_delete(conn: Connection, request: ChatDeleteRequest) -> Reply:
    """Host only: delete a message; everyone gets ``chat:deleted``."""
    await database_sync_to_async(chat.chat_message_delete)(
        meeting_id=conn.meeting_id, message_id=request.message_id, actor=conn.user,
        host_by_grant=_host_by_grant(conn))
    await conn.broadcast("chat:deleted", {"id": request.message_id}, exclude_self=False)
    return {"id": request.message_id}


# --- hands and reactions ------------------------------------------------------------------------


@route("hand:raise", schema=EmptyRequest, grant=grants.chat, reply=replies.HandRaisedReply,
       events=("hand:raised",))
async def hand_raise(conn: Connection, request: EmptyRequest) -> Reply:
    """Raise this peer's hand; everyone gets ``hand:raised`` (once, however often asked)."""
    _take_reaction(conn)
    room, peer = _in_call(conn)
    hand, new = hand_queues.raise_hand(room.meeting_id, peer_id=peer.id, user_id=peer.user_id,
                                       display_name=peer.display_name)
    if new:
        await conn.broadcast("hand:raised", hand.payload(), exclude_self=False)
    queue = hand_queues.queue(room.meeting_id, room.peers)
    position = next((i for i, h in enumerate(queue, 1) if h.peer_id == peer.id), 0)
    return {"raised": True, "position": position}


@route("hand:lower", schema=HandLowerRequest, grant=grants.allowed, reply=replies.HandLoweredReply,
       events=("hand:lowered",))
async def hand_lower(conn: Connection, request: HandLowerRequest) -> Reply:
    """Lower this peer's hand, or (host) anyone's; everyone gets ``hand:lowered``."""
    _take_reaction(conn)
    room, peer = _in_call(conn)
    target = request.peer_id or peer.id
    if target != peer.id:
        if not peer.is_host:
            raise SignalingError(ErrorCode.FORBIDDEN, "only the host may lower another's hand")
        room.peer(target)  # not_found for a peer not in this call
    lowered = hand_queues.lower(room.meeting_id, target)
    if lowered is not None:
        await conn.broadcast("hand:lowered", {
            "peerId": target, "by": "self" if target == peer.id else "host"},
            exclude_self=False)
    return {"peerId": target, "lowered": lowered is not None}


@route("hand:list", schema=EmptyRequest, grant=grants.allowed, reply=replies.HandListReply,
       call_state=True)
async def hand_list(conn: Connection, request: EmptyRequest) -> Reply:
    """The hands up in this call, first raised first (empty before anyone joined). The
    queue lives beside the call, so in a cluster the call's owner answers, whichever node
    serves the asking socket and whether or not it joined the call."""
    service = _service(conn)
    room = service.rooms.get(str(conn.meeting_id)) if service is not None else None
    if room is None:
        return {"hands": []}
    return {"hands": [h.payload() for h in hand_queues.queue(room.meeting_id, room.peers)]}


@route("reaction:send", schema=ReactionRequest, grant=grants.chat, reply=replies.NothingReply,
       events=("reaction:shown",))
async def reaction_send(conn: Connection, request: ReactionRequest) -> Reply:
    """Show a reaction on this peer's tile: everyone gets ``reaction:shown``; not stored."""
    _take_reaction(conn)
    _, peer = _in_call(conn)
    await conn.broadcast("reaction:shown", {"peerId": peer.id, "emoji": request.emoji,
                                            "displayName": peer.display_name},
                         exclude_self=False)
    return {}


# --- whiteboard ---------------------------------------------------------------------------------


def _take_reaction(conn: Connection) -> None:
    """Reactions and hand changes share one bucket per socket."""
    limits = collab_limits()
    _take(reaction_limiter, conn, limits.reactions_per_second, limits.reaction_burst,
          "reactions")


def _take_board(conn: Connection) -> None:
    limits = collab_limits()
    _take(board_limiter, conn, limits.board_ops_per_second, limits.board_burst,
          "whiteboard changes")


def _peer_id(conn: Connection) -> str | None:
    found = _call_peer(conn)
    return found[1].id if found is not None else None


@route("whiteboard:draw", schema=WhiteboardDrawRequest, grant=grants.whiteboard,
       reply=replies.WhiteboardSeqReply, events=("whiteboard:op",))
async def whiteboard_draw(conn: Connection, request: WhiteboardDrawRequest) -> Reply:
    """Add an element; the others get ``whiteboard:op`` (``add``) with its ``seq``."""
    _take_board(conn)
    op = await database_sync_to_async(whiteboard.board_add)(
        meeting_id=conn.meeting_id, author=conn.user, element=request.element,
        limits=collab_limits())
    await conn.broadcast("whiteboard:op", {**op, "peerId": _peer_id(conn)})
    return {"seq": op["seq"]}


@route("whiteboard:erase", schema=WhiteboardEraseRequest, grant=grants.whiteboard,
       reply=replies.WhiteboardErasedReply, events=("whiteboard:op",))
async def whiteboard_erase(conn: Connection, request: WhiteboardEraseRequest) -> Reply:
    """Erase elements (eraser, undo); the others get ``whiteboard:op`` (``erase``)."""
    _take_board(conn)
    op = await database_sync_to_async(whiteboard.board_erase)(meeting_id=conn.meeting_id,
                                                               ids=request.ids)
    if op is None:
        return {"seq": None, "erased": []}
    await conn.broadcast("whiteboard:op", {**op, "peerId": _peer_id(conn)})
    return {"seq": op["seq"], "erased": op["ids"]}


@route("whiteboard:clear", schema=EmptyRequest, grant=grants.host, reply=replies.WhiteboardSeqReply,
       events=("whiteboard:op",))
async def whiteboard_clear(conn: Connection, request: EmptyRequest) -> Reply:
    """Host only: clear the board; the others get ``whiteboard:op`` (``clear``)."""
    _take_board(conn)
    op = await database_sync_to_async(whiteboard.board_clear)(
        meeting_id=conn.meeting_id, actor=conn.user, host_by_grant=_host_by_grant(conn))
    await conn.broadcast("whiteboard:op", {**op, "peerId": _peer_id(conn)})
    return {"seq": op["seq"]}


@route("whiteboard:state", schema=EmptyRequest, grant=grants.allowed,
       reply=replies.WhiteboardStateReply)
async def whiteboard_state(conn: Connection, request: EmptyRequest) -> Reply:
    """The whole board (elements, ``seq``, ``clearedSeq``): for late joiners and reconnects."""
    return await database_sync_to_async(whiteboard.board_state)(meeting_id=conn.meeting_id)


@route("whiteboard:pointer", schema=PointerRequest, grant=grants.whiteboard,
       reply=replies.NothingReply, events=("whiteboard:pointer",))
async def whiteboard_pointer(conn: Connection, request: PointerRequest) -> Reply:
    """Show where this peer points: the others get ``whiteboard:pointer``; not stored."""
    _take(pointer_limiter, conn, collab_limits().board_pointer_per_second,
          int(collab_limits().board_pointer_per_second), "pointer moves")
    found = _call_peer(conn)
    name = found[1].display_name if found is not None else display_name_of(conn)
    await conn.broadcast("whiteboard:pointer", {
        "peerId": found[1].id if found else None, "userId": conn.user.pk,
        "displayName": name, "x": request.x, "y": request.y})
    return {}


# --- lobby --------------------------------------------------------------------------------------


def _waiting_for_host(meeting_id: Any, actor: Any, host_by_grant: bool | None) -> list[Any]:
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    if meeting is None:
        raise SignalingError(ErrorCode.NOT_FOUND, "meeting not found")
    require_host(meeting=meeting, user=actor, host_by_grant=host_by_grant,
                 action="see the lobby")
    return lobby.lobby_waiting(meeting_id=meeting_id)


@route("lobby:list", schema=EmptyRequest, grant=grants.host, reply=replies.LobbyListReply)
async def lobby_list(conn: Connection, request: EmptyRequest) -> Reply:
    """Host only: who waits in the lobby now, first come first."""
    waiting = await database_sync_to_async(_waiting_for_host)(conn.meeting_id, conn.user,
                                                              _host_by_grant(conn))
    return {"waiting": waiting}


async def _decide(conn: Connection, request: LobbyDecisionRequest, *, admit: bool) -> Reply:
    await database_sync_to_async(lobby.lobby_decide)(
        meeting_id=conn.meeting_id, user_id=request.user_id, admit=admit, actor=conn.user,
        host_by_grant=_host_by_grant(conn))
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(lobby_group(conn.meeting_id, request.user_id),
                               {"type": "lobby.decision", "admitted": admit})
    await notify_hosts(conn.meeting_id, "lobby:decided",
                       {"userId": request.user_id, "admitted": admit})
    return {"userId": request.user_id, "admitted": admit}


@route("lobby:admit", schema=LobbyDecisionRequest, grant=grants.host,
       reply=replies.LobbyDecidedReply, events=("lobby:admitted", "lobby:decided"))
async def lobby_admit(conn: Connection, request: LobbyDecisionRequest) -> Reply:
    """Host only: let a waiting person in (they get ``lobby:admitted``, then enter)."""
    return await _decide(conn, request, admit=True)


@route("lobby:deny", schema=LobbyDecisionRequest, grant=grants.host,
       reply=replies.LobbyDecidedReply, events=("lobby:denied", "lobby:decided"))
async def lobby_deny(conn: Connection, request: LobbyDecisionRequest) -> Reply:
    """Host only: turn a waiting person away (they get ``lobby:denied`` and are closed)."""
    return await _decide(conn, request, admit=False)


@receiver(room_closed)
def forget_hands(sender: Any, *, meeting_id: Any, **kwargs: Any) -> None:
    """The call ended on this node: its raised hands go with it (whichever node served the
    sockets of its peers)."""
    hand_queues.forget_meeting(meeting_id)


@registry.on_disconnect
async def forget_connection(conn: Connection) -> None:
    """The socket closed: drop its rate buckets and its place in the hosts' group."""
    for limiter in (chat_limiter, reaction_limiter, board_limiter, pointer_limiter):
        limiter.forget(conn.channel_name)
    if getattr(conn, "lobby_host", False):
        from collab.lobby_socket import hosts_group

        layer = get_channel_layer()
        if layer is not None:
            await layer.group_discard(hosts_group(conn.meeting_id), conn.channel_name)
