"""URL map of the integrations API (mounted under /api/)."""

from django.urls import path

from integrations import api

MEETING = "integrations/live/<uuid:meeting_id>/"

urlpatterns = [
    path("integrations/meetings/", api.MeetingListCreateView.as_view(),
         name="integration-meetings"),
    path("integrations/live/", api.LiveMeetingListView.as_view(), name="integration-live"),
    path(MEETING, api.LiveMeetingView.as_view(), name="integration-live-meeting"),
    path(MEETING + "end/", api.EndMeetingView.as_view(), name="integration-live-end"),
    path(MEETING + "tracks/<str:producer_id>/mute/", api.MuteTrackView.as_view(),
         name="integration-live-mute"),
    path(MEETING + "peers/<str:peer_id>/remove/", api.RemovePeerView.as_view(),
         name="integration-live-remove"),
    path(MEETING + "peers/<str:peer_id>/grants/", api.PeerGrantsView.as_view(),
         name="integration-live-grants"),
    path("integrations/tokens/", api.TokenMintView.as_view(), name="integration-tokens"),
    path("integrations/tokens/revoke/", api.TokenRevokeView.as_view(),
         name="integration-tokens-revoke"),
]
