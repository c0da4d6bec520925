"""Writes: a recording's lifecycle, each step one transaction that also stores its webhook.

``recording_create`` (status ``recording``) → ``recording_mark_processing`` (the call's files
are closed) → ``recording_mark_ready`` (the composed file is stored) or
``recording_mark_failed`` (with a reason; the track files stay). ``recording_delete`` removes
the row, its stored file and its track files.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from conference.errors import ApplicationError, ErrorCode
from meetings.models import Meeting
from recordings import signals
from recordings.models import Recording

__all__ = [
    "recording_create",
    "recording_delete",
    "recording_mark_failed",
    "recording_mark_lost",
    "recording_mark_processing",
    "recording_mark_ready",
    "recording_reopen",
    "recording_take_over",
]

logger = logging.getLogger(__name__)

MAX_REASON = 200


@transaction.atomic
def recording_create(*, meeting_id: Any, started_by_id: Any, work_root: Path,
                     node: str, recorder: str = "", continues: str = "") -> Recording:
    """A new recording of the meeting in status ``recording``; conflict if one runs or the
    meeting has ended. ``node`` names the disk its tracks go to (the node that composes it);
    ``recorder`` the cluster node (this process) recording it, when there is a cluster;
    ``continues`` the recording of the same call a drained node stopped."""
    meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    if meeting is None:
        raise ApplicationError("Meeting not found.", code=ErrorCode.NOT_FOUND)
    if meeting.status == Meeting.Status.ENDED:
        raise ApplicationError("The meeting has ended.", code=ErrorCode.CONFLICT)
    if Recording.objects.filter(meeting=meeting, status=Recording.Status.RECORDING).exists():
        raise ApplicationError("This meeting is being recorded already.",
                               code=ErrorCode.CONFLICT)
    recording = Recording(meeting=meeting, started_by_id=started_by_id,
                          started_at=timezone.now(), node=node,
                          details={key: value for key, value in (("recorder", recorder),
                                                                 ("continues", continues))
                                   if value})
    recording.work_dir = str(work_root / str(recording.id))
    try:
        with transaction.atomic():
            recording.save()
    except IntegrityError:
        raise ApplicationError("This meeting is being recorded already.",
                               code=ErrorCode.CONFLICT) from None
    signals.recording_started.send(sender=Recording, recording=recording)
    logger.info("recording created [recording:%s, meeting:%s]", recording.pk, meeting_id)
    return recording


@transaction.atomic
def recording_mark_processing(*, recording_id: Any, ended_at: datetime | None,
                              duration: float | None, stop_reason: str,
                              details: dict[str, Any] | None = None) -> Recording | None:
    """The call's files are closed: ``processing`` (no-op unless it was ``recording``)."""
    recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
    if recording is None or recording.status != Recording.Status.RECORDING:
        return recording
    recording.status = Recording.Status.PROCESSING
    recording.ended_at = ended_at or timezone.now()
    recording.duration = duration
    recording.stop_reason = stop_reason[:32]
    recording.details = {**recording.details, **(details or {})}
    recording.save()
    return recording


@transaction.atomic
def recording_take_over(*, recording_id: Any, duration: float | None, stop_reason: str,
                        details: dict[str, Any] | None = None) -> bool:
    """A ``recording`` row whose session is gone: ``processing`` here (True), unless another
    node or an earlier call took it first (False: only one composes it)."""
    recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
    if recording is None or recording.status != Recording.Status.RECORDING:
        return False
    recording_mark_processing(recording_id=recording_id, ended_at=None, duration=duration,
                              stop_reason=stop_reason, details=details)
    return True


@transaction.atomic
def recording_mark_lost(*, recording_id: Any, node_id: str) -> bool:
    """The cluster node recording it died (its lease ran out): ``failed`` with the reason
    ``node_lost``; its track files stay on that node's disk and are composed when it starts
    again (:func:`recording_reopen`). False when it was not ``recording`` any more."""
    recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
    if recording is None or recording.status != Recording.Status.RECORDING:
        return False
    recording.stop_reason = "node_lost"
    recording.save(update_fields=["stop_reason", "updated_at"])
    recording_mark_failed(
        recording_id=recording_id,
        reason=f"the server recording it ({node_id}) stopped without a word; what it saved "
               f"is composed when {recording.node} starts again")
    return True


@transaction.atomic
def recording_reopen(*, recording_id: Any) -> bool:
    """A recording failed with ``node_lost`` whose tracks are on this node's disk: back to
    ``processing`` to be composed (True), unless it is not such a recording any more."""
    recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
    if (recording is None or recording.status != Recording.Status.FAILED
            or recording.stop_reason != "node_lost"):
        return False
    recording.status = Recording.Status.PROCESSING
    recording.failure_reason = ""
    recording.save(update_fields=["status", "failure_reason", "updated_at"])
    return True


@transaction.atomic
def recording_mark_ready(*, recording_id: Any, path: Path, duration: float,
                         details: dict[str, Any]) -> Recording | None:
    """Store the composed file at ``path`` and mark the recording ``ready``."""
    recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
    if recording is None:
        return None
    with path.open("rb") as handle:
        recording.file.save(f"{recording.pk}{path.suffix}", File(handle), save=False)
    recording.size = recording.file.size
    recording.status = Recording.Status.READY
    recording.duration = duration
    recording.failure_reason = ""
    recording.details = {**recording.details, **details}
    recording.save()
    signals.recording_ready.send(sender=Recording, recording=recording)
    logger.info("recording ready [recording:%s, bytes:%s, seconds:%.1f]", recording.pk,
                recording.size, duration)
    return recording


@transaction.atomic
def recording_mark_failed(*, recording_id: Any, reason: str,
                          details: dict[str, Any] | None = None) -> Recording | None:
    """Mark the recording ``failed`` with a short reason (its track files are kept)."""
    recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
    if recording is None or recording.status == Recording.Status.READY:
        return recording
    recording.status = Recording.Status.FAILED
    recording.failure_reason = " ".join(reason.split())[:MAX_REASON]
    if recording.ended_at is None:
        recording.ended_at = timezone.now()
    recording.details = {**recording.details, **(details or {})}
    recording.save()
    signals.recording_failed.send(sender=Recording, recording=recording)
    logger.warning("recording failed [recording:%s]: %s", recording.pk,
                   recording.failure_reason)
    return recording


def recording_delete(*, recording: Recording) -> None:
    """Delete the recording, its stored file and its track files; conflict while it runs."""
    if recording.status == Recording.Status.RECORDING:
        raise ApplicationError("Stop the recording before deleting it.",
                               code=ErrorCode.CONFLICT)
    if recording.file:
        recording.file.delete(save=False)
    if recording.work_dir:
        shutil.rmtree(recording.work_dir, ignore_errors=True)
    recording.delete()
    logger.info("recording deleted [recording:%s]", recording.pk)
