"""Reads: the recordings of a meeting, one recording, the ones this node must finish."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from conference.errors import ApplicationError, ErrorCode
from meetings.models import Meeting
from recordings.models import Recording

__all__ = ["recording_get", "recording_list", "running_recording", "unfinished_on_node"]


def recording_list(*, meeting: Meeting) -> QuerySet[Recording]:
    """The meeting's recordings, newest first."""
    return Recording.objects.filter(meeting=meeting).select_related("started_by")


def recording_get(*, meeting: Meeting, recording_id: Any) -> Recording:
    """One recording of the meeting; not found otherwise (also for a malformed id)."""
    try:
        return recording_list(meeting=meeting).get(pk=recording_id)
    except (Recording.DoesNotExist, ValueError, ValidationError):
        raise ApplicationError("Recording not found.", code=ErrorCode.NOT_FOUND) from None


def running_recording(*, meeting_id: Any) -> Recording | None:
    """The meeting's recording in status ``recording``, if any."""
    return Recording.objects.filter(meeting_id=meeting_id,
                                    status=Recording.Status.RECORDING).first()


def unfinished_on_node(*, node: str) -> QuerySet[Recording]:
    """Recordings of this node still ``recording`` or ``processing`` (oldest first)."""
    return Recording.objects.filter(
        node=node, status__in=[Recording.Status.RECORDING, Recording.Status.PROCESSING]
    ).order_by("started_at")
