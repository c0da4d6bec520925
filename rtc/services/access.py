"""Who may be in a call, read from the database for the call model (one thread hop each).

The RoomService asks :func:`meeting_access` when a connection joins without the meeting's
capacity and its user's role from its own permission check, and :func:`user_may_rejoin`
before it keeps a dropped peer for its grace period (no point waiting for a user who may
not come back). Refusals are signaling errors, the codes the socket answers with.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from conference.db_threads import db_call
from conference.errors import ErrorCode as AppErrorCode
from meetings import selectors
from meetings.models import Meeting
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["meeting_access", "user_may_rejoin"]

_REFUSAL_CODES = {
    AppErrorCode.NOT_FOUND: ErrorCode.NOT_FOUND,
    AppErrorCode.FULL: ErrorCode.ROOM_FULL,
}


@db_call
def meeting_access(meeting_id: str, user: Any) -> selectors.JoinAccess:
    """The meeting's capacity and the user's role, or the reason the user may not join (for
    a connection that does not carry them from its own join)."""
    meeting = Meeting.objects.select_related("host").filter(pk=meeting_id).first()
    if meeting is None:
        raise SignalingError(ErrorCode.NOT_FOUND, "meeting not found")
    refusal, participant = selectors.join_check(meeting=meeting, user=user)
    if refusal is not None:
        code = _REFUSAL_CODES.get(refusal.code, ErrorCode.FORBIDDEN)
        raise SignalingError(code, refusal.message)
    return selectors.join_access(meeting=meeting, user=user, participant=participant)


@db_call
def user_may_rejoin(meeting_id: str, user_id: Any) -> bool:
    """False when the meeting is gone or ended, or the user may not join it any more."""
    meeting = Meeting.objects.select_related("host").filter(pk=meeting_id).first()
    user = get_user_model().objects.filter(pk=user_id).first()
    if meeting is None or user is None:
        return False
    refusal = selectors.join_refusal(meeting=meeting, user=user)
    return refusal is None or refusal.code == AppErrorCode.FULL
