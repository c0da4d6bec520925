"""The shared whiteboard: a server-ordered operation log, stored with the meeting.

Why a log ordered by the server rather than a CRDT: every change already passes through the
server (permissions, limits, storage), so the server can simply number them. Each change
(add an element, erase elements, clear) takes the board's next ``seq`` under the board row's
lock, in the same transaction that stores it, and is broadcast after the commit as
``whiteboard:op``. The operations are built to commute, so clients converge whatever order
the events reach them in: an add names a fresh element id, an erase removes ids (clients
remember them, so a late add of an erased id stays erased), and a clear removes everything
with a smaller seq (clients ignore adds older than the last clear). A late joiner (or a
reconnecting client) asks ``whiteboard:state`` for the elements and the seq, after it is
subscribed to the events, and merges both.

The board lives in the database (`collab.models.Whiteboard` and its elements), so it survives
a server restart; its size is bounded (elements and bytes per board, bytes per element).
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Sum

from collab.access import require_host
from collab.board_elements import element_size
from collab.config import CollabLimits
from collab.models import Whiteboard, WhiteboardElement
from conference.errors import ApplicationError, ErrorCode
from meetings.models import Meeting
from rtc.signaling.errors import SignalingError

__all__ = ["board_add", "board_clear", "board_elements", "board_erase", "board_state"]

logger = logging.getLogger(__name__)


def _locked_board(meeting_id: Any) -> Whiteboard:
    """The meeting's board under a row lock (made on first use); refuses ended meetings."""
    meeting = Meeting.objects.filter(pk=meeting_id).only("id", "status").first()
    if meeting is None:
        raise ApplicationError("Meeting not found.", code=ErrorCode.NOT_FOUND)
    if meeting.status == Meeting.Status.ENDED:
        raise ApplicationError("The meeting has ended.", code=ErrorCode.GONE)
    Whiteboard.objects.get_or_create(meeting_id=meeting.pk)
    return Whiteboard.objects.select_for_update().get(meeting_id=meeting.pk)


def _element_out(data: dict[str, Any], seq: int) -> dict[str, Any]:
    return {**data, "seq": seq}


@transaction.atomic
def board_add(*, meeting_id: Any, author: AbstractBaseUser, element: dict[str, Any],
              limits: CollabLimits) -> dict[str, Any]:
    """Add a checked element (`collab.board_elements.parse_element`); the operation to send."""
    size = element_size(element)
    if size > limits.board_max_element_bytes:
        raise SignalingError(ErrorCode.INVALID,
                             f"element is larger than {limits.board_max_element_bytes} bytes")
    board = _locked_board(meeting_id)
    if board.size_bytes + size > limits.board_max_bytes or (
            board.elements.count() >= limits.board_max_elements):
        raise SignalingError(ErrorCode.LIMIT, "the whiteboard is full: erase or clear first")
    seq = board.seq + 1
    try:
        with transaction.atomic():
            WhiteboardElement.objects.create(board=board, element_id=element["id"], seq=seq,
                                             author=author, data=element, size_bytes=size)
    except IntegrityError:
        raise SignalingError(ErrorCode.INVALID, "that element id is already used") from None
    board.seq, board.size_bytes = seq, board.size_bytes + size
    board.save(update_fields=["seq", "size_bytes", "updated_at"])
    return {"seq": seq, "op": "add", "element": _element_out(element, seq),
            "userId": author.pk}


@transaction.atomic
def board_erase(*, meeting_id: Any, ids: tuple[str, ...]) -> dict[str, Any] | None:
    """Erase elements by id; the operation to send, or None when none of them was there
    (erased meanwhile by someone else: nothing changes, nothing to tell)."""
    board = _locked_board(meeting_id)
    found = board.elements.filter(element_id__in=ids)
    erased = list(found.values_list("element_id", flat=True))
    if not erased:
        return None
    freed = found.aggregate(total=Sum("size_bytes"))["total"] or 0
    found.delete()
    board.seq += 1
    board.size_bytes = max(0, board.size_bytes - freed)
    board.save(update_fields=["seq", "size_bytes", "updated_at"])
    return {"seq": board.seq, "op": "erase", "ids": sorted(erased)}


@transaction.atomic
def board_clear(*, meeting_id: Any, actor: AbstractBaseUser,
                host_by_grant: bool | None = None) -> dict[str, Any]:
    """Remove everything: the host's action (``host_by_grant``: see `collab.access`)."""
    board = _locked_board(meeting_id)
    require_host(meeting=board.meeting, user=actor, host_by_grant=host_by_grant,
                 action="clear the whiteboard")
    board.elements.all().delete()
    board.seq += 1
    board.cleared_seq, board.size_bytes = board.seq, 0
    board.save(update_fields=["seq", "cleared_seq", "size_bytes", "updated_at"])
    logger.info("meeting=%s whiteboard cleared by user=%s at seq=%s", meeting_id, actor.pk,
                board.seq)
    return {"seq": board.seq, "op": "clear"}


def board_elements(*, meeting_id: Any) -> list[dict[str, Any]]:
    """The board's elements in drawing order (oldest first), each with its ``seq``."""
    rows = WhiteboardElement.objects.filter(board_id=meeting_id).order_by("seq")
    return [_element_out(data, seq) for data, seq in rows.values_list("data", "seq")]


def board_state(*, meeting_id: Any) -> dict[str, Any]:
    """What a late joiner needs: the elements, the last seq and the last clear's seq."""
    board = Whiteboard.objects.filter(meeting_id=meeting_id).first()
    if board is None:
        return {"seq": 0, "clearedSeq": 0, "elements": []}
    return {"seq": board.seq, "clearedSeq": board.cleared_seq,
            "elements": board_elements(meeting_id=meeting_id)}
