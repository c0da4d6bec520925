"""The meetings REST API: thin views that validate, call a service, and serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from meetings import selectors, services
from meetings.models import Meeting
from meetings.permissions import IsMeetingHostOrReadOnly
from meetings.serializers import (
    MeetingSerializer,
    ParticipantInviteSerializer,
    ParticipantSerializer,
)


class MeetingViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Meetings: list yours, create, read, change and delete (host), end (host).

    A meeting the user may not see answers 404, exactly like one that does not exist.
    """

    serializer_class = MeetingSerializer
    permission_classes = [IsAuthenticated, IsMeetingHostOrReadOnly]
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    queryset = Meeting.objects.none()  # for the schema; get_queryset decides per user

    def get_queryset(self) -> Any:
        """Your meetings in the list; anything you may see for a single meeting."""
        if self.action == "list":
            return selectors.meeting_list_for_user(user=self.request.user)
        return selectors.meeting_visible_to(user=self.request.user)

    def perform_create(self, serializer: MeetingSerializer) -> None:
        """Create through the service, which also adds the host as a participant."""
        serializer.instance = services.meeting_create(
            host=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: MeetingSerializer) -> None:
        """Update through the service, which broadcasts `meeting.updated` after commit."""
        serializer.instance = services.meeting_update(
            meeting=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: Meeting) -> None:
        """Delete through the service, which tells connected clients the meeting ended."""
        services.meeting_delete(meeting=instance, actor=self.request.user)

    @extend_schema(request=None, responses=MeetingSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: Any = None) -> Response:
        """End the meeting for everyone (host only)."""
        meeting = self.get_object()
        meeting = services.meeting_end(meeting=meeting, actor=request.user)
        return Response(self.get_serializer(meeting).data)

    @extend_schema(
        methods=["GET"],
        request=None,
        responses=ParticipantSerializer(many=True),
        description="Participants with their attendance (any participant may read).",
    )
    @extend_schema(
        methods=["POST"],
        request=ParticipantInviteSerializer,
        responses={201: ParticipantSerializer},
        description="Invite a user by username (host only).",
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def participants(self, request: Request, pk: Any = None) -> Response:
        """List attendance, or invite a participant."""
        meeting = self.get_object()
        if request.method == "GET":
            rows = selectors.participant_list(meeting=meeting)
            return Response(ParticipantSerializer(rows, many=True).data)
        body = ParticipantInviteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        participant = services.participant_invite(
            meeting=meeting, actor=request.user, username=body.validated_data["username"]
        )
        return Response(ParticipantSerializer(participant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Removed.")})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"participants/(?P<username>[\w.@+-]+)",
        url_name="participant-detail",
    )
    def remove_participant(self, request: Request, pk: Any = None, username: str = "") -> Response:
        """Remove a participant (host only); their open connections are closed."""
        meeting = self.get_object()
        services.participant_remove(meeting=meeting, actor=request.user, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)
