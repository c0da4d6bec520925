"""URL map of the web UI (mounted at the site root by conference/urls.py)."""

from django.urls import path

from meetings import views

app_name = "web"

urlpatterns = [
    path("meetings/", views.meeting_list, name="meeting-list"),
    path("meetings/new/", views.meeting_create, name="meeting-create"),
    path("meetings/<uuid:meeting_id>/", views.meeting_call, name="meeting-call"),
    path("meetings/<uuid:meeting_id>/details/", views.meeting_detail, name="meeting-detail"),
    path("meetings/<uuid:meeting_id>/edit/", views.meeting_edit, name="meeting-edit"),
    path("meetings/<uuid:meeting_id>/invite/", views.meeting_invite, name="meeting-invite"),
    path(
        "meetings/<uuid:meeting_id>/participants/<str:username>/remove/",
        views.meeting_remove_participant,
        name="meeting-remove-participant",
    ),
    path("meetings/<uuid:meeting_id>/end/", views.meeting_end, name="meeting-end"),
]
