"""URL maps of the collaboration features: the API (under /api/) and the web exports."""

from django.urls import path

from collab.api import MeetingMessagesView
from collab.views import whiteboard_export

api_urlpatterns = [
    path("meetings/<uuid:meeting_id>/messages/", MeetingMessagesView.as_view(),
         name="meeting-messages"),
]

web_urlpatterns = [
    path("meetings/<uuid:meeting_id>/whiteboard.<str:fmt>", whiteboard_export,
         name="meeting-whiteboard"),
]
