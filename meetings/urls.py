"""URL map of the meetings API (mounted under /api/)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from meetings.api import MeetingViewSet

router = DefaultRouter()
router.register("meetings", MeetingViewSet, basename="meeting")

urlpatterns = [
    path("", include(router.urls)),
]
