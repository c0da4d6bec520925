"""Recording: one recording of a meeting's call, from its start to its composed file."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from meetings.models import Meeting
from recordings.storage import recording_storage

__all__ = ["Recording", "RecordingStatus"]


class RecordingStatus(models.TextChoices):
    """``recording`` → ``processing`` → ``ready``, or ``failed`` (with its reason)."""

    RECORDING = "recording", "Recording"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


def _upload_to(instance: Recording, filename: str) -> str:
    return f"{instance.meeting_id}/{filename}"


class Recording(models.Model):
    """A recording. At most one per meeting is ``recording`` at a time (a database rule)."""

    Status = RecordingStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="recordings")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="recordings_started")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECORDING)
    failure_reason = models.CharField(max_length=200, blank=True)
    stop_reason = models.CharField(max_length=32, blank=True,
                                   help_text="stopped, call_ended, max_duration, "
                                             "server_shutdown, disk_full, ...")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    size = models.BigIntegerField(null=True, blank=True, help_text="Bytes of the composed file.")
    file = models.FileField(storage=recording_storage, upload_to=_upload_to, blank=True,
                            max_length=300)
    work_dir = models.CharField(max_length=500, help_text="Track files on the recording node.")
    node = models.CharField(max_length=200, help_text="The node that records and composes it.")
    details = models.JSONField(default=dict, blank=True,
                               help_text="Layout, incidents and skipped tracks.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "node"], name="recording_status_node_idx"),
                   models.Index(fields=["meeting", "-started_at"],
                                name="recording_meeting_idx")]
        constraints = [
            models.UniqueConstraint(fields=["meeting"], condition=Q(status="recording"),
                                    name="recording_one_running_per_meeting"),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in RecordingStatus]),
                name="recording_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Recording {self.id} of {self.meeting_id} ({self.status})"
