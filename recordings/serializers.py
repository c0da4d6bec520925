"""The API's view of a recording."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from recordings.models import Recording

__all__ = ["RecordingCreatedSerializer", "RecordingSerializer"]


class RecordingSerializer(serializers.ModelSerializer):
    """``file`` is a URL that downloads the composed file (null until it is ready), with the
    same authentication as the API; ``duration`` in seconds, ``size`` in bytes."""

    file = serializers.SerializerMethodField()

    class Meta:
        model = Recording
        fields = ["id", "status", "started_at", "ended_at", "duration", "size", "file",
                  "failure_reason"]
        read_only_fields = fields

    def get_file(self, recording: Recording) -> str | None:
        """The download URL of a ready recording."""
        if recording.status != Recording.Status.READY or not recording.file:
            return None
        route = self.context.get("file_route", "recording-file")
        path = reverse(route, kwargs={"meeting_id": recording.meeting_id,
                                      "recording_id": recording.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class RecordingCreatedSerializer(serializers.Serializer):
    """What starting a recording answers."""

    id = serializers.UUIDField()
    status = serializers.CharField()
