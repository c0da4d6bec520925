"""SocketSession: what one meeting socket holds besides Channels' own state, given back once.

A meeting socket takes, in this order, a slot in the per-user and per-address socket counts
(`rtc.websocket.limits`, and the cluster's shared counts), its rate limit (`SocketRate`: the frame
and request budgets and the flood cut-off), a
hold on its user's attendance (`rtc.policy.attendance`) and, once in the meeting, a link to its call
peer (the ``rtc:leave`` flag, the registry's disconnect hooks that detach the peer). Each has
to be given back exactly once however the socket ends: the client's close, a server close, a
refusal half-way through the set-up, or the socket's task cancelled by the server (which then
never delivers the disconnect). The session keeps all of them and :meth:`SocketSession.leave`
and :meth:`SocketSession.release_slot` are idempotent, so
:class:`rtc.websocket.consumer.MeetingConsumer` keeps to Channels' hooks and the meeting's protocol.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from meetings.selectors import JoinAccess
from rtc.cluster.limits import take_shared
from rtc.lifecycle import shutdown
from rtc.policy.attendance import attendance, mark_left
from rtc.services import current_room_service
from rtc.services.config import limits
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.websocket.limits import SocketLimit, SocketSlot, address_tag, client_address, open_sockets
from rtc.websocket.rate import FRAME_FACTOR, FrameVerdict, SocketRate
from rtc.websocket.told import AlreadyTold

if TYPE_CHECKING:
    from rtc.websocket.consumer import MeetingConsumer

__all__ = ["FRAME_FACTOR", "SocketSession"]

logger = logging.getLogger(__name__)

_TOO_MANY_SOCKETS = {
    SocketLimit.USER: "too many open meeting connections for this account",
    SocketLimit.ADDRESS: "too many open meeting connections from this address",
}


class SocketSession:
    """One meeting socket's slot, rate limit, attendance hold and call link."""

    def __init__(self, conn: MeetingConsumer) -> None:
        self.conn = conn
        self.slot: SocketSlot | None = None
        """This socket's place in the per-user and per-address counts, until given back."""
        self.joined = False
        """In the meeting (its group, its attendance held) until :meth:`leave`."""
        self.leaving = False
        """The client sent ``rtc:leave`` (and no ``rtc:join`` since): its close is a leave."""
        self.rate = SocketRate()
        """The socket's one rate limit (frames, route requests, flood cut-off)."""
        self.join_access: JoinAccess | None = None
        """The user's role and the meeting's capacity, read when the socket joined (kept
        current by ``meeting.updated``; None: ``rtc:join`` reads them again)."""
        self.told = AlreadyTold()
        """What its snapshots listed: the announcements of the same things are not relayed."""

    @property
    def flooded(self) -> bool:
        """Cut off for flooding: its call peer is released at once (no reconnect grace)."""
        return self.rate.flooded

    # -- the socket counts ------------------------------------------------------------------------

    def take_slot(self) -> dict[str, str] | None:
        """Count this socket against its user's and its address's limits; when one is full,
        the refusal to send instead. Nothing is awaited between the check and the count, so
        concurrent connects cannot all slip under a limit."""
        conn, limit = self.conn, limits()
        address = client_address(conn.scope)
        outcome = open_sockets.acquire(
            user_id=conn.user.pk, address=address, max_per_user=limit.max_sockets_per_user,
            max_per_address=limit.max_sockets_per_address)
        if isinstance(outcome, SocketSlot):
            self.slot = outcome
            return None
        cap = (limit.max_sockets_per_user if outcome is SocketLimit.USER
               else limit.max_sockets_per_address)
        logger.warning("meeting=%s refused user=%s: its %s holds %s open sockets, the limit "
                       "[address:%s]", conn.meeting_id, conn.user.pk, outcome.value, cap,
                       address_tag(address))
        return {"code": "too_many_sockets", "reason": _TOO_MANY_SOCKETS[outcome]}

    async def take_shared_slot(self) -> dict[str, str] | None:
        """In a cluster, count this socket against the limits of all nodes together
        (`rtc.cluster.limits`); the refusal to send when one is full."""
        slot, limit = self.slot, limits()
        if slot is None:
            return None
        outcome = await take_shared(slot, max_per_user=limit.max_sockets_per_user,
                                    max_per_address=limit.max_sockets_per_address)
        if outcome is None:
            return None
        self.slot = None
        logger.warning("meeting=%s refused user=%s: its %s is at the cluster's limit",
                       self.conn.meeting_id, self.conn.user.pk, outcome.value)
        return {"code": "too_many_sockets", "reason": _TOO_MANY_SOCKETS[outcome]}

    def release_slot(self) -> None:
        """Give this socket's slot back (once; later calls change nothing)."""
        slot, self.slot = self.slot, None
        if slot is not None:
            open_sockets.release(slot)

    # -- the rate limit ---------------------------------------------------------------------------

    def take_frame(self) -> bool | None:
        """Count a frame against the socket's frame budget (every frame included). True: serve
        it; False: refuse it with ``limit``; None: the client went on flooding for another
        whole burst after being refused: cut it off (``flooded`` is set; the consumer closes
        it, its call peer released at once)."""
        verdict = self.rate.take_frame()
        if verdict is FrameVerdict.CUT_OFF:
            return None
        return verdict is FrameVerdict.SERVE

    def take_request(self, request_type: str) -> None:
        """Count a request of a declared route against the request budget; raises ``limit``
        when it is spent (built-in requests such as ``ping`` only count as frames)."""
        if self.conn.registry.rate_limited(request_type) and not self.rate.take_request():
            raise SignalingError(ErrorCode.LIMIT, "too many requests, slow down")

    # -- attendance -------------------------------------------------------------------------------

    def hold_attendance(self) -> bool:
        """This socket holds its user's presence in the meeting; True when it is the first
        holder (then its join is written). Held before the write, so a concurrent last leave
        of this user is not written."""
        conn = self.conn
        return attendance.hold(conn.meeting_id, conn.user.pk, conn.channel_name)

    async def release_attendance(self) -> None:
        """Let go of the user's presence; its leave is written when nothing else holds it."""
        conn = self.conn
        if attendance.release(conn.meeting_id, conn.user.pk, conn.channel_name):
            await mark_left(conn.meeting_id, conn.user.pk)

    # -- the meeting's group ----------------------------------------------------------------------

    async def discard_group(self) -> None:
        """Leave the meeting's group. The channel layer unreachable (Redis down) must not stop
        the rest of a leave: the call peer's detach and the attendance would be skipped, the
        peer left in the call and the leave never written (found by bench/chaos.py). The
        membership then lapses with the group's expiry, or went with a restarted Redis."""
        conn = self.conn
        try:
            await conn.channel_layer.group_discard(conn.group_name, conn.channel_name)
        except Exception as error:
            logger.warning("meeting=%s user=%s group not left, channel layer unavailable: %r",
                           conn.meeting_id, conn.user.pk, error)

    # -- entering and leaving ---------------------------------------------------------------------

    def enter(self) -> None:
        """The socket is in its meeting now: it leaves it (once) however it ends, and a server
        shutdown tells it (`rtc.lifecycle.shutdown`)."""
        self.joined = True
        shutdown.track(self.conn)

    def note_request(self, request_type: str) -> None:
        """Noted before a request's handler runs: a close after ``rtc:leave`` (with no
        ``rtc:join`` since) is a leave even if the request is refused or fails."""
        if request_type in ("rtc:leave", "rtc:join"):
            self.leaving = request_type == "rtc:leave"

    def note_answered(self, request_type: str, data: Any) -> None:
        """Noted when a request succeeded: in the call after ``rtc:join`` (what its reply
        lists is not announced again), out of it after ``rtc:leave`` (`rtc.websocket.told`)."""
        if request_type == "rtc:join" and data:
            self.told.call_joined(data)
        elif request_type == "rtc:leave":
            self.told.call_left()

    async def leave(self) -> None:
        """Leave the meeting, once: shutdown tracking, group, the call (at once
        after ``rtc:leave``, else the disconnect hooks keep the peer for its grace period),
        then the attendance. Each step runs even when one before it failed."""
        if not self.joined:
            return
        conn = self.conn
        self.joined = False
        shutdown.untrack(conn)
        await self.discard_group()
        if self.leaving:
            try:
                await self._leave_call()
            except Exception:
                logger.exception("meeting=%s user=%s leaving the call on close failed",
                                 conn.meeting_id, conn.user.pk)
        # The hooks run first: a call peer kept for the reconnect grace period holds the
        # user's attendance, so the leave below is written only when nothing holds it.
        for hook in conn.registry.disconnect_hooks:
            try:
                await hook(conn)
            except Exception:
                logger.exception("meeting=%s user=%s disconnect hook %r failed",
                                 conn.meeting_id, conn.user.pk, hook)
        await self.release_attendance()
        logger.info("meeting=%s user=%s disconnected", conn.meeting_id, conn.user.pk)

    async def _leave_call(self) -> None:
        """The client asked to leave the call before closing: end its peer now, with reason
        ``left``, not after the reconnect grace. Usually ``rtc:leave`` already did (then there
        is nothing left to do); this covers an ``rtc:leave`` that was refused or failed."""
        service = current_room_service()
        if service is None:
            return
        try:
            await service.leave(channel_name=self.conn.channel_name)
        except SignalingError:
            return  # no peer on this socket any more: the usual case
        logger.info("meeting=%s user=%s peer left when its socket closed after rtc:leave",
                    self.conn.meeting_id, self.conn.user.pk)
