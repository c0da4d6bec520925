"""URL map of the recordings API (mounted under /api/)."""

from django.urls import path

from recordings import api, integration_api

BASE = "meetings/<uuid:meeting_id>/recordings/"
ONE = BASE + "<uuid:recording_id>/"
INTEGRATION = "integrations/meetings/<uuid:meeting_id>/recordings/"
INTEGRATION_ONE = INTEGRATION + "<uuid:recording_id>/"

urlpatterns = [
    path(BASE, api.RecordingListView.as_view(), name="recording-list"),
    path(ONE, api.RecordingDetailView.as_view(), name="recording-detail"),
    path(ONE + "stop/", api.RecordingStopView.as_view(), name="recording-stop"),
    path(ONE + "file/", api.RecordingFileView.as_view(), name="recording-file"),
    path(INTEGRATION, integration_api.IntegrationRecordingListView.as_view(),
         name="integration-recording-list"),
    path(INTEGRATION_ONE, integration_api.IntegrationRecordingDetailView.as_view(),
         name="integration-recording-detail"),
    path(INTEGRATION_ONE + "stop/", integration_api.IntegrationRecordingStopView.as_view(),
         name="integration-recording-stop"),
    path(INTEGRATION_ONE + "file/", integration_api.IntegrationRecordingFileView.as_view(),
         name="integration-recording-file"),
]
