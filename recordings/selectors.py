"""Reads: the recordings of a meeting, one recording, the ones this node must finish."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from conference.errors import ApplicationError, ErrorCode
from meetings.models import Meeting
from recordings.models import Recording

__all__ = ["recording_get", "recording_list", "running_by_recorders", "running_recording",
           "unfinished_on_node"]


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
    """Recordings of this node still ``recording`` or ``processing``, or ``failed`` because
    the node died while recording them (``node_lost``), oldest first."""
    unfinished = Q(status__in=[Recording.Status.RECORDING, Recording.Status.PROCESSING])
    lost = Q(status=Recording.Status.FAILED, stop_reason="node_lost")
    return Recording.objects.filter(unfinished | lost, node=node).order_by("started_at")


def running_by_recorders(*, node_ids: list[str]) -> QuerySet[Recording]:
    """Recordings in status ``recording`` made by these cluster nodes."""
    return Recording.objects.filter(status=Recording.Status.RECORDING,
                                    details__recorder__in=node_ids)
