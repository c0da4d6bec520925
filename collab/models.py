"""What the collaboration features keep with a meeting: chat messages, the whiteboard, the lobby.

The database refuses inconsistent rows itself: an empty message that is not deleted, a
whiteboard element id used twice on one board, two lobby entries of one person in a meeting.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from meetings.models import Meeting

__all__ = ["ChatMessage", "LobbyEntry", "Whiteboard", "WhiteboardElement"]

NAME_MAX_LENGTH = 64


class ChatMessage(models.Model):
    """One chat message of a meeting, to everyone or privately to one person.

    The text is kept exactly as sent (never cleaned or escaped here: each client escapes it
    where it shows it). A message the host deleted keeps its row (who, when) without its text.
    """

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="chat_messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="chat_messages")
    display_name = models.CharField(max_length=NAME_MAX_LENGTH,
                                    help_text="The author's name in the call when sent.")
    text = models.TextField(blank=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="private_chat_messages", help_text="Set for a private message.")
    recipient_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["meeting", "sent_at"], name="chat_meeting_sent_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(text="") | Q(deleted_at__isnull=False),
                                   name="chat_text_not_empty"),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.meeting_id}"

    @property
    def is_private(self) -> bool:
        """Whether only the author and the recipient may read it."""
        return self.recipient_id is not None


class Whiteboard(models.Model):
    """A meeting's shared board: the head of its operation log.

    Every change takes the next ``seq`` under this row's lock, so all clients apply the same
    order; ``cleared_seq`` is the seq of the last clear (elements drawn before it are gone).
    """

    meeting = models.OneToOneField(Meeting, on_delete=models.CASCADE, primary_key=True,
                                   related_name="whiteboard")
    seq = models.BigIntegerField(default=0)
    cleared_seq = models.BigIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0, help_text="JSON bytes of its elements.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"whiteboard of {self.meeting_id} at {self.seq}"


class WhiteboardElement(models.Model):
    """One thing on a board (a pen stroke, a shape, a text), as its client drew it."""

    board = models.ForeignKey(Whiteboard, on_delete=models.CASCADE, related_name="elements")
    element_id = models.CharField(max_length=64)
    seq = models.BigIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                               blank=True, related_name="+")
    data = models.JSONField()
    size_bytes = models.IntegerField()

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["board", "element_id"],
                                    name="whiteboard_element_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.element_id}@{self.seq}"


class LobbyStatus(models.TextChoices):
    """Where a person in the lobby stands."""

    WAITING = "waiting", "Waiting"
    ADMITTED = "admitted", "Admitted"
    DENIED = "denied", "Denied"


class LobbyEntry(models.Model):
    """A person who asked to enter a meeting whose access is "lobby", and the host's answer."""

    Status = LobbyStatus

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="lobby")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    display_name = models.CharField(max_length=NAME_MAX_LENGTH)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    waiting_sockets = models.PositiveIntegerField(default=0)
    """Open connections of this person waiting now (several tabs, several nodes): the entry
    leaves the lobby when the last of them closes, not the first."""

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "user"], name="lobby_one_entry"),
            models.CheckConstraint(condition=Q(status__in=[c.value for c in LobbyStatus]),
                                   name="lobby_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.status} for {self.meeting_id}"
