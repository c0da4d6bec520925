"""Reads: which meetings a user may see, join and manage.

Everything that decides access lives here, so the REST API and the WebSocket agree.
Synchronous; async callers wrap them with `channels.db.database_sync_to_async`.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from conference.errors import ApplicationError, ErrorCode
from meetings.models import Meeting, Participant

__all__ = [
    "join_check",
    "join_refusal",
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


def _refusal(
    *, meeting: Meeting, user: UserLike, participant: Participant | None
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
    if not already_present and participants_present(meeting=meeting).count() >= meeting.capacity:
        return ApplicationError("The meeting is full.", code=ErrorCode.FULL)
    return None


def user_can_join(*, meeting: Meeting, user: UserLike) -> bool:
    """Whether the user may join the meeting now (see `join_refusal` for the reason)."""
    return join_refusal(meeting=meeting, user=user) is None
