"""Reads: which meetings a user may see, join and manage.

Everything that decides access lives here, so the REST API and the WebSocket agree.
Synchronous; async callers wrap them with `channels.db.database_sync_to_async`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from conference.errors import ApplicationError, ErrorCode
from meetings.models import Meeting, Participant

__all__ = [
    "JoinAccess",
    "join_access",
    "join_check",
    "join_refusal",
    "join_refusal_given",
    "meeting_get_for_user",
    "meeting_list_for_user",
    "meeting_visible_to",
    "participant_get",
    "participant_list",
    "participants_present",
    "user_can_join",
    "user_is_host",
]

UserLike = AbstractBaseUser | AnonymousUser


def meeting_list_for_user(*, user: UserLike) -> QuerySet[Meeting]:
    """Meetings the user hosts or takes part in (invited or joined), newest first."""
    if not user.is_authenticated:
        return Meeting.objects.none()
    return (
        Meeting.objects.filter(Q(host=user) | Q(participants__user=user))
        .distinct()
        .select_related("host")
        .order_by("-created_at")
    )


def meeting_visible_to(*, user: UserLike) -> QuerySet[Meeting]:
    """Meetings the user may look at: their own, and those any signed-in user may join or ask
    to join (access "authenticated" or "lobby")."""
    if not user.is_authenticated:
        return Meeting.objects.none()
    return (
        Meeting.objects.filter(
            Q(host=user)
            | Q(participants__user=user)
            | Q(access__in=[Meeting.Access.AUTHENTICATED, Meeting.Access.LOBBY])
        )
        .distinct()
        .select_related("host")
    )


def meeting_get_for_user(*, meeting_id: uuid.UUID | str, user: UserLike) -> Meeting:
    """The meeting if it exists and the user may see it; otherwise a not-found error.

    Meetings the user may not see are reported as not found, so ids cannot be probed.
    """
    try:
        return meeting_visible_to(user=user).get(pk=meeting_id)
    except (Meeting.DoesNotExist, ValueError, ValidationError):
        raise ApplicationError("Meeting not found.", code=ErrorCode.NOT_FOUND) from None


def participant_get(*, meeting: Meeting, user: UserLike) -> Participant | None:
    """The user's participant row in the meeting, if any."""
    if not user.is_authenticated:
        return None
    return Participant.objects.filter(meeting=meeting, user=user).first()


def user_is_host(*, meeting: Meeting, user: UserLike) -> bool:
    """Whether the user hosts the meeting (and so may change, invite to, and end it)."""
    return bool(user.is_authenticated) and meeting.host_id == user.pk


def participants_present(*, meeting: Meeting) -> QuerySet[Participant]:
    """Participants in the meeting right now."""
    return Participant.objects.filter(
        meeting=meeting, joined_at__isnull=False, left_at__isnull=True
    ).select_related("user")


def participant_list(*, meeting: Meeting) -> QuerySet[Participant]:
    """Every participant of the meeting with role, invitation and attendance times."""
    return Participant.objects.filter(meeting=meeting).select_related("user")


@dataclass(frozen=True, slots=True)
class JoinAccess:
    """What a meeting socket and its call need to know about the user's place in the meeting,
    read once when the socket joins and kept for the socket's life: nothing here changes
    during a call except through ``meeting.updated`` (see :meth:`updated`)."""

    meeting_id: str
    capacity: int
    """The meeting's capacity (people present at once)."""
    is_host: bool
    """The user hosts the meeting (or holds its host participant row)."""
    invited: bool
    """The user may join an invited-only meeting (host or a participant row)."""

    def updated(self, meeting: dict[str, Any]) -> JoinAccess | None:
        """This access after a ``meeting.updated`` payload (``events.meeting_payload``);
        None when the change may refuse the user (the meeting ended, or became invited-only
        for someone not invited), so the next use reads the database again."""
        if meeting.get("status") == Meeting.Status.ENDED:
            return None
        if meeting.get("access") == Meeting.Access.INVITED and not self.invited:
            return None
        capacity = meeting.get("capacity")
        return replace(self, capacity=capacity) if isinstance(capacity, int) else self


def join_access(
    *, meeting: Meeting, user: UserLike, participant: Participant | None
) -> JoinAccess:
    """The user's `JoinAccess` to a meeting they may join (``participant``: their row)."""
    is_host = user_is_host(meeting=meeting, user=user) or (
        participant is not None and participant.role == Participant.Role.HOST)
    return JoinAccess(meeting_id=str(meeting.pk), capacity=meeting.capacity, is_host=is_host,
                      invited=is_host or participant is not None)


def join_refusal(*, meeting: Meeting, user: UserLike) -> ApplicationError | None:
    """Why the user may not join the meeting now, or None when they may.

    Order matters: unauthenticated, then not allowed, then ended, then full.
    """
    return join_check(meeting=meeting, user=user)[0]


def join_check(
    *, meeting: Meeting, user: UserLike
) -> tuple[ApplicationError | None, Participant | None]:
    """`join_refusal` and the user's participant row it read (None if there is none), so a
    caller that also needs the row (the user's role) does not query it again."""
    if not user.is_authenticated or not user.is_active:
        return ApplicationError("Sign in to join.", code=ErrorCode.NOT_AUTHENTICATED), None
    participant = participant_get(meeting=meeting, user=user)
    return _refusal(meeting=meeting, user=user, participant=participant), participant


def join_refusal_given(
    *, meeting: Meeting, user: UserLike, participant: Participant | None, present_count: int
) -> ApplicationError | None:
    """`join_refusal` from rows the caller already read: the user's participant row and how
    many are present (saves the queries on a path that reads them anyway)."""
    if not user.is_authenticated or not user.is_active:
        return ApplicationError("Sign in to join.", code=ErrorCode.NOT_AUTHENTICATED)
    return _refusal(meeting=meeting, user=user, participant=participant,
                    present_count=present_count)


def _refusal(
    *, meeting: Meeting, user: UserLike, participant: Participant | None,
    present_count: int | None = None,
) -> ApplicationError | None:
    allowed = (
        user_is_host(meeting=meeting, user=user)
        or participant is not None
        or meeting.access == Meeting.Access.AUTHENTICATED
    )
    if not allowed:
        return ApplicationError("You are not invited to this meeting.", code=ErrorCode.FORBIDDEN)
    if meeting.status == Meeting.Status.ENDED:
        return ApplicationError("The meeting has ended.", code=ErrorCode.GONE)
    already_present = participant is not None and participant.is_present
    if already_present:
        return None
    if present_count is None:
        present_count = participants_present(meeting=meeting).count()
    if present_count >= meeting.capacity:
        return ApplicationError("The meeting is full.", code=ErrorCode.FULL)
    return None


def user_can_join(*, meeting: Meeting, user: UserLike) -> bool:
    """Whether the user may join the meeting now (see `join_refusal` for the reason)."""
    return join_refusal(meeting=meeting, user=user) is None
