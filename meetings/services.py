"""Writes: create, change, end meetings; invite, remove, mark participants joined and left.

Each service takes keyword-only arguments, runs in one transaction, checks the rules itself
(callers may be the API, the WebSocket or a script), raises `ApplicationError` on a broken rule,
and broadcasts its event to the meeting's group only after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from conference.errors import ApplicationError, ErrorCode
from meetings import events, joins, leaves, selectors, signals
from meetings.models import DEFAULT_CAPACITY, MAX_CAPACITY, Meeting, Participant

logger = logging.getLogger(__name__)

__all__ = [
    "meeting_create",
    "meeting_delete",
    "meeting_end",
    "meeting_update",
    "participant_invite",
    "participant_join",
    "participant_mark_joined",
    "participant_mark_left",
    "participant_remove",
]

UPDATABLE_FIELDS = frozenset({"title", "scheduled_start", "scheduled_end", "access", "capacity"})


def _require_host(*, meeting: Meeting, actor: AbstractBaseUser, action: str) -> None:
    if not selectors.user_is_host(meeting=meeting, user=actor):
        raise ApplicationError(f"Only the host may {action}.", code=ErrorCode.FORBIDDEN)


def _require_not_ended(meeting: Meeting) -> None:
    if meeting.status == Meeting.Status.ENDED:
        raise ApplicationError("The meeting has ended.", code=ErrorCode.GONE)


def _check_schedule_and_capacity(
    *, scheduled_start: datetime | None, scheduled_end: datetime | None, capacity: int
) -> None:
    if scheduled_start and scheduled_end and scheduled_end <= scheduled_start:
        raise ApplicationError("The scheduled end must be after the start.")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ApplicationError(f"Capacity must be between 1 and {MAX_CAPACITY}.")


def _locked(meeting: Meeting) -> Meeting:
    """The meeting re-read under a row lock, so concurrent writers serialize on it."""
    return Meeting.objects.select_for_update().select_related("host").get(pk=meeting.pk)


@transaction.atomic
def meeting_create(
    *,
    host: AbstractBaseUser,
    title: str,
    scheduled_start: datetime | None = None,
    scheduled_end: datetime | None = None,
    access: str = Meeting.Access.INVITED,
    capacity: int = DEFAULT_CAPACITY,
) -> Meeting:
    """Create a meeting hosted by `host`, with the host as its first participant."""
    title = title.strip()
    if not title:
        raise ApplicationError("The title must not be empty.")
    _check_schedule_and_capacity(
        scheduled_start=scheduled_start, scheduled_end=scheduled_end, capacity=capacity
    )
    meeting = Meeting.objects.create(
        host=host,
        title=title,
        scheduled_start=scheduled_start,
        scheduled_end=scheduled_end,
        access=access,
        capacity=capacity,
    )
    Participant.objects.create(meeting=meeting, user=host, role=Participant.Role.HOST)
    logger.info("meeting=%s created by user=%s", meeting.id, host.pk)
    return meeting


@transaction.atomic
def meeting_update(*, meeting: Meeting, actor: AbstractBaseUser, **changes: Any) -> Meeting:
    """Change the title, schedule, access or capacity; host only, not once ended."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ApplicationError(f"Cannot change: {', '.join(sorted(unknown))}.")
    meeting = _locked(meeting)
    _require_host(meeting=meeting, actor=actor, action="change the meeting")
    _require_not_ended(meeting)
    if "title" in changes:
        changes["title"] = changes["title"].strip()
        if not changes["title"]:
            raise ApplicationError("The title must not be empty.")
    for field, value in changes.items():
        setattr(meeting, field, value)
    _check_schedule_and_capacity(
        scheduled_start=meeting.scheduled_start,
        scheduled_end=meeting.scheduled_end,
        capacity=meeting.capacity,
    )
    meeting.save()
    events.broadcast_on_commit(meeting.id, events.MEETING_UPDATED, events.meeting_payload(meeting))
    return meeting


@transaction.atomic
def meeting_end(*, meeting: Meeting, actor: AbstractBaseUser) -> Meeting:
    """End the meeting for everyone: host only; present participants are marked left."""
    meeting = _locked(meeting)
    _require_host(meeting=meeting, actor=actor, action="end the meeting")
    _require_not_ended(meeting)
    now = timezone.now()
    meeting.status = Meeting.Status.ENDED
    meeting.ended_at = now
    meeting.save(update_fields=["status", "ended_at", "updated_at"])
    present = list(selectors.participants_present(meeting=meeting))
    selectors.participants_present(meeting=meeting).update(left_at=now)
    logger.info("meeting=%s ended by user=%s", meeting.id, actor.pk)
    for participant in present:
        participant.left_at = now
        signals.participant_left.send(sender=Meeting, participant=participant)
    signals.meeting_ended.send(sender=Meeting, meeting=meeting)
    events.broadcast_on_commit(meeting.id, events.MEETING_ENDED, events.meeting_payload(meeting))
    return meeting


@transaction.atomic
def meeting_delete(*, meeting: Meeting, actor: AbstractBaseUser) -> None:
    """Delete the meeting and its participants; host only. Connected clients get `ended`."""
    meeting = _locked(meeting)
    _require_host(meeting=meeting, actor=actor, action="delete the meeting")
    payload = events.meeting_payload(meeting)
    payload["status"] = Meeting.Status.ENDED
    meeting_id = meeting.id
    if meeting.status != Meeting.Status.ENDED:
        meeting.status, meeting.ended_at = Meeting.Status.ENDED, timezone.now()
        signals.meeting_ended.send(sender=Meeting, meeting=meeting)
    meeting.delete()
    logger.info("meeting=%s deleted by user=%s", meeting_id, actor.pk)
    events.broadcast_on_commit(meeting_id, events.MEETING_ENDED, payload)


@transaction.atomic
def participant_invite(*, meeting: Meeting, actor: AbstractBaseUser, username: str) -> Participant:
    """Invite the user named `username`; host only. Inviting twice is a conflict."""
    meeting = _locked(meeting)
    _require_host(meeting=meeting, actor=actor, action="invite participants")
    _require_not_ended(meeting)
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ApplicationError("No such user.", code=ErrorCode.NOT_FOUND)
    if Participant.objects.filter(meeting=meeting, user=user).exists():
        raise ApplicationError("The user is already a participant.", code=ErrorCode.CONFLICT)
    try:
        with transaction.atomic():
            participant = Participant.objects.create(
                meeting=meeting, user=user, role=Participant.Role.MEMBER, invited_at=timezone.now()
            )
    except IntegrityError:
        raise ApplicationError(
            "The user is already a participant.", code=ErrorCode.CONFLICT
        ) from None
    logger.info("meeting=%s invited user=%s", meeting.id, user.pk)
    return participant


@transaction.atomic
def participant_remove(*, meeting: Meeting, actor: AbstractBaseUser, username: str) -> None:
    """Remove a participant (their connections are closed); host only; never the host."""
    meeting = _locked(meeting)
    _require_host(meeting=meeting, actor=actor, action="remove participants")
    participant = (
        Participant.objects.select_related("user")
        .filter(meeting=meeting, user__username=username)
        .first()
    )
    if participant is None:
        raise ApplicationError("No such participant.", code=ErrorCode.NOT_FOUND)
    if participant.role == Participant.Role.HOST:
        raise ApplicationError("The host cannot be removed.", code=ErrorCode.CONFLICT)
    payload = events.participant_payload(participant)
    participant.delete()
    logger.info("meeting=%s removed user=%s", meeting.id, payload["userId"])
    events.broadcast_on_commit(meeting.id, events.PARTICIPANT_REMOVED, payload)


@transaction.atomic
def participant_mark_joined(*, meeting: Meeting, user: AbstractBaseUser) -> Participant:
    """Record that the user joined now, as a meeting socket's join does
    (`meetings.joins.participants_join`: the refusal checked under the meeting's lock, the
    row created for open meetings, a scheduled meeting started, `meeting.participantJoined`
    broadcast after commit); the user's row as written.
    """
    participant_join(meeting_id=meeting.pk, user=user, record=True)
    return Participant.objects.select_related("user").get(meeting_id=meeting.pk, user=user)


def participant_join(
    *, meeting_id: Any, user: AbstractBaseUser, record: bool,
    gate: Callable[[Meeting], None] | None = None,
) -> tuple[selectors.JoinAccess, dict[str, Any]]:
    """A meeting socket joining, in one transaction: check that the user may join, write the
    join when ``record`` (the user's first presence in this process: otherwise another socket
    or a call peer in its grace period holds it, and only the check is made), and return the
    user's `selectors.JoinAccess` with the ``meeting.state`` snapshot taken after the write.

    Three queries where the separate selectors and services made nine: the meeting (locked
    when writing, with its host), the user's row together with who is present (the capacity
    check and the snapshot), the write. Raises the refusal (`ApplicationError`) of a user
    who may not join. One request of `meetings.joins.participants_join`, which writes many.
    """
    outcome = joins.participants_join(
        [joins.JoinRequest(meeting_id=meeting_id, user=user, record=record, gate=gate)])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@transaction.atomic
def participant_mark_left(*, meeting_id: Any, user: AbstractBaseUser,
                          at: datetime | None = None) -> Participant | None:
    """Record that the user left now (or ``at``, a leave written late, after the database was
    unavailable); a no-op (None) if they were not present, or, with ``at``, joined again since.

    Takes the meeting id because the meeting may have been deleted meanwhile.
    """
    present = Participant.objects.filter(
        meeting_id=meeting_id, user=user, joined_at__isnull=False, left_at__isnull=True)
    if at is not None:
        present = present.filter(joined_at__lte=at)
    participant = present.select_for_update().select_related("user").first()
    if participant is None:
        return None
    participant.left_at = at or timezone.now()
    participant.save(update_fields=["left_at"])
    leaves.announce_left(participant)
    return participant
