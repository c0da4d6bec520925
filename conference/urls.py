"""Project URL map: admin (and its live page), accounts, language switching, the REST API with
its schema and docs (and the meeting socket's), health probes and metrics, a home page."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from collab.urls import api_urlpatterns as collab_api
from collab.urls import web_urlpatterns as collab_web
from conference.login_throttle import obtain_auth_token
from recordings import views as recording_views
from rtc.lifecycle.health import healthz, readyz
from rtc.operations.admin_page import live_meetings
from rtc.operations.metrics import metrics_view
from rtc.signaling.views import asyncapi_view, socket_schema_view

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    # Before admin.site.urls, whose catch-all would take "live" for an app label.
    path("admin/live/", live_meetings, name="admin-live"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/auth/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # The meeting socket's JSON Schema and AsyncAPI document, generated from its route table.
    path("api/schema/socket/", socket_schema_view, name="socket-schema"),
    path("api/schema/asyncapi/", asyncapi_view, name="socket-asyncapi"),
    path("api/", include(collab_api)),
    path("api/", include("meetings.urls")),
    path("api/", include("recordings.urls")),
    path("api/", include("integrations.urls")),
    path("", include(collab_web)),
    path("", include("meetings.urls_web")),
    path("meetings/<uuid:meeting_id>/recordings/<uuid:recording_id>/delete/",
         recording_views.recording_delete, name="web-recording-delete"),
]

# Under /api/ unmatched paths and crashes answer JSON in the API's error shape (DEBUG off).
handler404 = "conference.errors.page_not_found"
handler500 = "conference.errors.server_error"
