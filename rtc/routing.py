"""WebSocket URL routes."""

from __future__ import annotations

from django.urls import path

from rtc.websocket.consumer import MeetingConsumer

websocket_urlpatterns = [
    path("ws/meetings/<uuid:meeting_id>/", MeetingConsumer.as_asgi()),
]
