"""The recordings REST API, for signed-in users under ``/api/meetings/<id>/recordings/`` and for
integrations under ``/api/integrations/meetings/<id>/recordings/``.

Who may do what: anyone who may see the meeting lists, reads and downloads its recordings; its
host starts, stops and deletes them (a member gets 403; someone who may not see the meeting
404, as for the meeting itself). An integration drives the recordings of its own meetings.
Starting and stopping touch the live call, so those views hand their work to the serving loop
(``async_to_sync``), as the live-room API does.
"""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from conference.errors import ApplicationError, ErrorCode
from meetings import selectors as meeting_selectors
from meetings.models import Meeting
from recordings import live, selectors, services
from recordings.models import Recording
from recordings.ranges import ranged_response
from recordings.serializers import RecordingCreatedSerializer, RecordingSerializer
from recordings.storage import recording_storage

__all__ = ["RecordingDetailView", "RecordingFileView", "RecordingListView", "RecordingStopView",
           "display_name_of", "serve_recording_file"]


def display_name_of(user: Any) -> str:
    """How the call page names whoever started a recording."""
    name = (user.get_full_name() if hasattr(user, "get_full_name") else "") or str(user)
    return " ".join(name.split())[:64]


def serve_recording_file(request: Any, recording: Recording) -> Any:
    """The composed file with range support (``?download=1``: as an attachment)."""
    if recording.status != Recording.Status.READY or not recording.file:
        raise ApplicationError("The recording is not ready.", code=ErrorCode.NOT_FOUND)
    storage = recording_storage()
    try:
        size = storage.size(recording.file.name)
        handle = storage.open_ranged(recording.file.name)
    except OSError:
        raise ApplicationError("The recording's file is missing.",
                               code=ErrorCode.NOT_FOUND) from None
    filename = f"recording-{recording.started_at:%Y%m%d-%H%M}{recording.file.name[-5:]}"
    filename = filename.replace("/", "")
    return ranged_response(request, handle=handle, size=size, filename=filename,
                           download=request.GET.get("download") == "1")


class IgnoreAccept(BaseContentNegotiation):
    """The file endpoint answers bytes whatever ``Accept`` says (a video element's)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        """The first parser."""
        return parsers[0]

    def select_renderer(self, request: Request, renderers: Any,
                        format_suffix: Any = None) -> Any:
        """The first renderer (used only for errors)."""
        return renderers[0], renderers[0].media_type


class MeetingRecordingsView(APIView):
    """Base: the meeting as the signed-in user may see it; host checks for writes."""

    permission_classes = [IsAuthenticated]
    file_route = "recording-file"

    def meeting(self, meeting_id: uuid.UUID, *, host: bool = False) -> Meeting:
        """The meeting (404 if not visible; 403 for a member when ``host``)."""
        meeting = meeting_selectors.meeting_get_for_user(meeting_id=meeting_id,
                                                         user=self.request.user)
        if host and not meeting_selectors.user_is_host(meeting=meeting, user=self.request.user):
            raise ApplicationError("Only the host may do this.", code=ErrorCode.FORBIDDEN)
        return meeting

    def actor(self) -> tuple[Any, str]:
        """Who acts: a user id and a display name."""
        return self.request.user.pk, display_name_of(self.request.user)

    def serialize(self, recording: Recording) -> dict[str, Any]:
        """The recording in the API's shape."""
        return RecordingSerializer(recording, context={"request": self.request,
                                                       "file_route": self.file_route}).data


class RecordingListView(MeetingRecordingsView):
    """List a meeting's recordings; start one."""

    @extend_schema(responses=RecordingSerializer(many=True))
    def get(self, request: Request, meeting_id: uuid.UUID) -> Response:
        """The meeting's recordings, newest first."""
        meeting = self.meeting(meeting_id)
        return Response([self.serialize(r) for r in selectors.recording_list(meeting=meeting)])

    @extend_schema(request=None, responses={
        201: RecordingCreatedSerializer,
        409: OpenApiResponse(description="No call in progress, or a recording runs already.")})
    def post(self, request: Request, meeting_id: uuid.UUID) -> Response:
        """Start recording the meeting's call (host)."""
        meeting = self.meeting(meeting_id, host=True)
        user_id, name = self.actor()
        recording = async_to_sync(live.start_recording)(
            meeting_id=meeting.pk, started_by_id=user_id, started_by_name=name)
        return Response({"id": str(recording.pk), "status": recording.status},
                        status=status.HTTP_201_CREATED)


class RecordingDetailView(MeetingRecordingsView):
    """One recording: read it, delete it (host)."""

    @extend_schema(responses=RecordingSerializer)
    def get(self, request: Request, meeting_id: uuid.UUID, recording_id: uuid.UUID) -> Response:
        """The recording."""
        meeting = self.meeting(meeting_id)
        return Response(self.serialize(selectors.recording_get(meeting=meeting,
                                                               recording_id=recording_id)))

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Still recording.")})
    def delete(self, request: Request, meeting_id: uuid.UUID,
               recording_id: uuid.UUID) -> Response:
        """Delete the recording and its files (host; not while it records)."""
        meeting = self.meeting(meeting_id, host=True)
        recording = selectors.recording_get(meeting=meeting, recording_id=recording_id)
        services.recording_delete(recording=recording)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecordingStopView(MeetingRecordingsView):
    """Stop a running recording (host)."""

    @extend_schema(request=None, responses={
        200: RecordingSerializer, 409: OpenApiResponse(description="It is not running.")})
    def post(self, request: Request, meeting_id: uuid.UUID, recording_id: uuid.UUID) -> Response:
        """Stop it; it is then ``processing`` until its file is composed."""
        meeting = self.meeting(meeting_id, host=True)
        recording = selectors.recording_get(meeting=meeting, recording_id=recording_id)
        if recording.status != Recording.Status.RECORDING:
            raise ApplicationError("The recording is not running.", code=ErrorCode.CONFLICT)
        recording = async_to_sync(live.stop_recording)(meeting_id=meeting.pk,
                                                        recording_id=recording.pk)
        return Response(self.serialize(recording))


class RecordingFileView(MeetingRecordingsView):
    """The composed file, with HTTP ranges (a video element seeks with them)."""

    content_negotiation_class = IgnoreAccept

    @extend_schema(responses={(200, "application/octet-stream"): bytes,
                              206: OpenApiResponse(description="The requested range.")})
    def get(self, request: Request, meeting_id: uuid.UUID, recording_id: uuid.UUID) -> Any:
        """The file (or the requested byte range of it)."""
        meeting = self.meeting(meeting_id)
        recording = selectors.recording_get(meeting=meeting, recording_id=recording_id)
        return serve_recording_file(request, recording)
