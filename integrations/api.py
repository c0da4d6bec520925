"""The integrations REST API (under /api/integrations/): meetings, live calls, join tokens.

Callers: an integration's backend (``Authorization: Bearer <api key>:<secret>``), which sees
and drives only the meetings it owns, or a staff user (token or session), who sees all.
Another integration's meeting answers 404, exactly like one that does not exist.

Live calls are the RoomService's state in this process: the views hand their work to the
serving event loop (`async_to_sync`), as calls must be touched only from there.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from conference.errors import ApplicationError, ErrorCode
from integrations import live_rooms, selectors, services
from integrations.authentication import IntegrationAuthentication
from integrations.config import integration_settings
from integrations.models import Integration
from integrations.permissions import IsIntegration, IsIntegrationOrStaff, caller_integration
from integrations.serializers import (
    GrantsChangedSerializer,
    GrantsChangeSerializer,
    IntegrationMeetingSerializer,
    LiveMeetingSerializer,
    LivePeerSerializer,
    TokenRequestSerializer,
    TokenRevokeSerializer,
    TokenSerializer,
)
from integrations.tokens import mint_join_token
from meetings import services as meeting_services
from meetings.models import Meeting
from rtc.signaling.errors import ErrorCode as SignalingCode
from rtc.signaling.errors import SignalingError

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CODES = {
    SignalingCode.NOT_FOUND: ErrorCode.NOT_FOUND,
    SignalingCode.INVALID: ErrorCode.INVALID,
    SignalingCode.FORBIDDEN: ErrorCode.FORBIDDEN,
}


def on_loop(coroutine: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run a live-call coroutine on the serving event loop; its refusals as API errors."""
    try:
        return async_to_sync(coroutine)(*args, **kwargs)
    except SignalingError as error:
        raise ApplicationError(error.message, code=_CODES.get(error.code, ErrorCode.CONFLICT)
                               ) from None


def _integration(request: Request) -> Integration:
    integration = caller_integration(request)
    if integration is None:  # IsIntegration lets only integrations through
        raise PermissionDenied("This needs an integration's API key.")
    return integration


def _integration_and_body(request: Request,
                          serializer: type[Serializer]) -> tuple[Integration, dict[str, Any]]:
    """The calling integration, and the request's body validated by ``serializer`` (a 400
    with the serializer's errors when it is not valid)."""
    integration = _integration(request)
    form = serializer(data=request.data)
    form.is_valid(raise_exception=True)
    return integration, dict(form.validated_data)


def _with_identities(peers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = selectors.identities_of_users([p["user_id"] for p in peers])
    return [{**p, "identity": names.get(p["user_id"], "")} for p in peers]


class IntegrationAPIView(APIView):
    """Base: integration key, or staff by token or session."""

    authentication_classes = [IntegrationAuthentication, TokenAuthentication,
                              SessionAuthentication]
    permission_classes = [IsIntegrationOrStaff]

    def meeting(self, meeting_id: Any) -> Meeting:
        """The meeting if this caller may drive it, else 404."""
        return selectors.meeting_for_caller(integration=caller_integration(self.request),
                                            meeting_id=meeting_id)


class MeetingListCreateView(IntegrationAPIView, generics.ListCreateAPIView):
    """The integration's meetings (staff: every meeting); create one (integration only)."""

    serializer_class = IntegrationMeetingSerializer
    queryset = Meeting.objects.none()  # for the schema; get_queryset decides per caller

    def get_queryset(self) -> Any:
        """Newest first."""
        return selectors.meetings_for_caller(integration=caller_integration(self.request))

    def get_permissions(self) -> list[Any]:
        """Creating needs an integration's key (the meeting is hosted by its owner)."""
        if self.request.method == "POST":
            return [IsIntegration()]
        return super().get_permissions()

    def perform_create(self, serializer: IntegrationMeetingSerializer) -> None:
        """Create through the service, which links the meeting to the integration."""
        integration = _integration(self.request)
        serializer.instance = services.meeting_create_for_integration(
            integration=integration, **serializer.validated_data)


class LiveMeetingListView(IntegrationAPIView):
    """Meetings with a live call, their peers and tracks."""

    @extend_schema(responses=LiveMeetingSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Every live call the caller may see."""
        rooms = on_loop(live_rooms.snapshot)
        visible = dict(
            selectors.meetings_for_caller(integration=caller_integration(request))
            .filter(pk__in=[r["meeting_id"] for r in rooms]).values_list("pk", "title"))
        titles = {str(pk): title for pk, title in visible.items()}
        data = [{**room, "title": titles[room["meeting_id"]],
                 "peers": _with_identities(room["peers"])}
                for room in rooms if room["meeting_id"] in titles]
        return Response(LiveMeetingSerializer(data, many=True).data)


class LiveMeetingView(IntegrationAPIView):
    """One meeting's live call."""

    @extend_schema(responses={200: LiveMeetingSerializer,
                              404: OpenApiResponse(description="No such meeting or no call.")})
    def get(self, request: Request, meeting_id: Any) -> Response:
        """The call's peers and tracks now."""
        meeting = self.meeting(meeting_id)
        rooms = on_loop(live_rooms.snapshot, {str(meeting.pk)})
        if not rooms:
            raise ApplicationError("No live call for that meeting.", code=ErrorCode.NOT_FOUND)
        room = rooms[0]
        data = {**room, "title": meeting.title, "peers": _with_identities(room["peers"])}
        return Response(LiveMeetingSerializer(data).data)


class EndMeetingView(IntegrationAPIView):
    """End a meeting for everyone, now."""

    @extend_schema(request=None, responses={200: IntegrationMeetingSerializer,
                                            410: OpenApiResponse(description="Already ended.")})
    def post(self, request: Request, meeting_id: Any) -> Response:
        """Mark it ended (connected clients are told and closed) and empty its call."""
        meeting = self.meeting(meeting_id)
        meeting = meeting_services.meeting_end(meeting=meeting, actor=meeting.host)
        removed = on_loop(live_rooms.end_call, str(meeting.pk))
        logger.info("meeting=%s ended through the API by %s (peers removed: %s)", meeting.pk,
                    request.user, removed)
        return Response(IntegrationMeetingSerializer(meeting).data)


class MuteTrackView(IntegrationAPIView):
    """Mute (pause) one track of a live call."""

    @extend_schema(request=None, responses=LivePeerSerializer)
    def post(self, request: Request, meeting_id: Any, producer_id: str) -> Response:
        """Everyone, the owner included, gets `rtc:producerPaused`; returns the owner."""
        meeting = self.meeting(meeting_id)
        peer = on_loop(live_rooms.mute_track, str(meeting.pk), producer_id, actor=str(request.user))
        return Response(LivePeerSerializer(_with_identities([peer])[0]).data)


class RemovePeerView(IntegrationAPIView):
    """Remove one peer from a live call."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, meeting_id: Any, peer_id: str) -> Response:
        """The peer gets `rtc:removed`; it may not rejoin this call while it lasts."""
        meeting = self.meeting(meeting_id)
        on_loop(live_rooms.remove_peer, str(meeting.pk), peer_id, actor=str(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PeerGrantsView(IntegrationAPIView):
    """Change a connected peer's grants."""

    @extend_schema(request=GrantsChangeSerializer, responses=GrantsChangedSerializer)
    def patch(self, request: Request, meeting_id: Any, peer_id: str) -> Response:
        """Applied at once: tracks no longer allowed close, future requests are checked."""
        meeting = self.meeting(meeting_id)
        changes = GrantsChangeSerializer(data=request.data)
        changes.is_valid(raise_exception=True)
        peer = on_loop(live_rooms.update_grants, str(meeting.pk), peer_id,
                       dict(changes.validated_data), actor=str(request.user))
        return Response(GrantsChangedSerializer(_with_identities([peer])[0]).data)


class TokenMintView(IntegrationAPIView):
    """Mint a join token server-side (the same as `integrations.tokens.mint_join_token`)."""

    permission_classes = [IsIntegration]

    @extend_schema(request=TokenRequestSerializer, responses={201: TokenSerializer})
    def post(self, request: Request) -> Response:
        """A token for one identity in one of the integration's meetings."""
        integration, values = _integration_and_body(request, TokenRequestSerializer)
        meeting = self.meeting(values["meeting_id"])
        if meeting.status == Meeting.Status.ENDED:
            raise ApplicationError("The meeting has ended.", code=ErrorCode.GONE)
        max_lifetime = integration_settings().token_max_lifetime
        if values["ttl"] > max_lifetime:
            raise ApplicationError(f"ttl must be at most {max_lifetime} seconds.")
        grants = values.get("grants") or {}
        now = datetime.now(UTC).replace(microsecond=0)
        jti = secrets.token_urlsafe(16)
        token = mint_join_token(
            api_key=integration.api_key, secret=integration.secret, meeting_id=meeting.pk,
            identity=values["identity"], name=values.get("name"), ttl=values["ttl"], now=now,
            jti=jti, **{k: grants[k] for k in ("publish", "subscribe", "hidden", "host", "record",
                                               "chat", "whiteboard") if k in grants})
        data = {"token": token, "jti": jti,
                "expires_at": now + timedelta(seconds=values["ttl"]),
                "ws_path": f"/ws/meetings/{meeting.pk}/"}
        return Response(TokenSerializer(data).data, status=status.HTTP_201_CREATED)


class TokenRevokeView(IntegrationAPIView):
    """Refuse one join token (by `jti`) from now on."""

    permission_classes = [IsIntegration]

    @extend_schema(request=TokenRevokeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        """Idempotent; peers already connected with it stay (remove them to end that)."""
        integration, values = _integration_and_body(request, TokenRevokeSerializer)
        services.token_revoke(integration=integration, **values)
        return Response(status=status.HTTP_204_NO_CONTENT)
