"""Meeting and Participant, with the database constraints that keep them consistent.

The database, not only the API, refuses inconsistent rows: an end before the start, a capacity
outside 1..MAX_CAPACITY, a second host, a duplicate participant, a leave without a join.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

MAX_CAPACITY = 500
DEFAULT_CAPACITY = 50
TITLE_MAX_LENGTH = 200


class MeetingStatus(models.TextChoices):
    """Lifecycle: scheduled until someone joins, live while in use, ended for good."""

    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"


class MeetingAccess(models.TextChoices):
    """Who may join besides the host."""

    INVITED = "invited", "Invited participants only"
    AUTHENTICATED = "authenticated", "Any signed-in user"
    LOBBY = "lobby", "Signed-in users and guests wait until the host admits them"


class Meeting(models.Model):
    """A meeting. Its UUID is the unguessable id used in URLs and the WebSocket path."""

    Status = MeetingStatus
    Access = MeetingAccess

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hosted_meetings"
    )
    scheduled_start = models.DateTimeField(null=True, blank=True)
    scheduled_end = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    access = models.CharField(max_length=16, choices=Access.choices, default=Access.INVITED)
    capacity = models.PositiveIntegerField(
        default=DEFAULT_CAPACITY, help_text=f"Most people present at once (1-{MAX_CAPACITY})."
    )
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["host", "-created_at"], name="meeting_host_created_idx"),
            models.Index(fields=["status", "scheduled_start"], name="meeting_status_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__gte=1) & Q(capacity__lte=MAX_CAPACITY),
                name="meeting_capacity_range",
            ),
            models.CheckConstraint(
                condition=Q(scheduled_start__isnull=True)
                | Q(scheduled_end__isnull=True)
                | Q(scheduled_end__gt=F("scheduled_start")),
                name="meeting_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in MeetingStatus]),
                name="meeting_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(access__in=[choice.value for choice in MeetingAccess]),
                name="meeting_access_valid",
            ),
            models.CheckConstraint(
                condition=~Q(title=""),
                name="meeting_title_not_empty",
            ),
            models.CheckConstraint(
                condition=~Q(status="ended") | Q(ended_at__isnull=False),
                name="meeting_ended_has_ended_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.id})"

    @property
    def group_name(self) -> str:
        """The Channels group of this meeting's WebSocket connections."""
        return f"meeting.{self.id}"


class ParticipantRole(models.TextChoices):
    """The host may change, invite to, remove from, and end the meeting."""

    HOST = "host", "Host"
    MEMBER = "member", "Member"


class Participant(models.Model):
    """A user's place in a meeting: role, invitation, and the latest join/leave times.

    A row exists for the host, for each invited user, and for anyone who joined an open
    meeting. `joined_at` set with `left_at` empty means the user is present now.
    """

    Role = ParticipantRole

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    invited_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["meeting"],
                condition=Q(joined_at__isnull=False, left_at__isnull=True),
                name="participant_present_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "user"], name="participant_unique_user"),
            models.UniqueConstraint(
                fields=["meeting"], condition=Q(role="host"), name="participant_one_host"
            ),
            models.CheckConstraint(
                condition=Q(role__in=[choice.value for choice in ParticipantRole]),
                name="participant_role_valid",
            ),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True)
                | (Q(joined_at__isnull=False) & Q(left_at__gte=F("joined_at"))),
                name="participant_left_after_joined",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.meeting_id} ({self.role})"

    @property
    def is_present(self) -> bool:
        """Whether the user is in the meeting now."""
        return self.joined_at is not None and self.left_at is None
