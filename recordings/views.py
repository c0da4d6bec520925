"""Web views of recordings (the meeting page lists them through
``recordings.templatetags.recording_tags``; the player and downloads use the API's file URL)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conference.errors import ApplicationError
from meetings import selectors as meeting_selectors
from recordings import selectors, services

__all__ = ["recording_delete"]


@login_required
@require_POST
def recording_delete(request: HttpRequest, meeting_id: uuid.UUID,
                     recording_id: uuid.UUID) -> HttpResponse:
    """The host deletes a recording (404 for those who may not see the meeting, 403 for
    members)."""
    try:
        meeting = meeting_selectors.meeting_get_for_user(meeting_id=meeting_id,
                                                         user=request.user)
        recording = selectors.recording_get(meeting=meeting, recording_id=recording_id)
    except ApplicationError:
        raise Http404(_("Recording not found.")) from None
    if not meeting_selectors.user_is_host(meeting=meeting, user=request.user):
        raise PermissionDenied(_("Only the host may do this."))
    try:
        services.recording_delete(recording=recording)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The recording was deleted."))
    return redirect("web:meeting-detail", meeting_id=meeting.id)
