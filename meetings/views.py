"""Web views: the meetings list, create/edit, detail with invitations, ending, the call page.

Thin like the API views: read through `selectors`, write through `services`, and turn an
`ApplicationError` into a form error or a message. A meeting the user may not see is a 404
(as in the API, so ids cannot be probed); a host-only action by a member is a 403.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from collab.config import collab_limits
from conference.errors import ApplicationError, ErrorCode
from meetings import selectors, services
from meetings.call_strings import call_strings
from meetings.forms import InviteForm, MeetingForm
from meetings.models import Meeting

logger = logging.getLogger(__name__)

__all__ = [
    "meeting_call",
    "meeting_create",
    "meeting_detail",
    "meeting_edit",
    "meeting_end",
    "meeting_invite",
    "meeting_list",
    "meeting_remove_participant",
]

PAST_LIMIT = 20


def _visible_meeting(request: HttpRequest, meeting_id: uuid.UUID) -> Meeting:
    """The meeting if the user may see it, else 404."""
    try:
        return selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    except ApplicationError:
        raise Http404(_("Meeting not found.")) from None


def _hosted_meeting(request: HttpRequest, meeting_id: uuid.UUID) -> Meeting:
    """The meeting if the user hosts it; 404 if they may not see it, 403 if only a member."""
    meeting = _visible_meeting(request, meeting_id)
    if not selectors.user_is_host(meeting=meeting, user=request.user):
        raise PermissionDenied(_("Only the host may do this."))
    return meeting


def display_name_for(user: Any) -> str:
    """What the others see: the full name if set, else the username (64 characters at most)."""
    name = " ".join((user.get_full_name() or user.get_username()).split())
    return name[:64]


@login_required
def meeting_list(request: HttpRequest) -> HttpResponse:
    """Your meetings in three groups: live now, upcoming, past."""
    meetings = list(selectors.meeting_list_for_user(user=request.user))
    live = [m for m in meetings if m.status == Meeting.Status.LIVE]
    # Scheduled ones by start time first, then those without a time by creation.
    upcoming = sorted(
        (m for m in meetings if m.status == Meeting.Status.SCHEDULED),
        key=lambda m: (m.scheduled_start is None, m.scheduled_start or m.created_at),
    )
    past = sorted(
        (m for m in meetings if m.status == Meeting.Status.ENDED),
        key=lambda m: m.ended_at or m.created_at,
        reverse=True,
    )[:PAST_LIMIT]
    return render(
        request,
        "meetings/list.html",
        {
            "sections": [
                ("live", _("Live now"), live, _("No meeting is live right now.")),
                ("upcoming", _("Upcoming"), upcoming, _("Nothing scheduled.")),
                ("past", _("Past"), past, _("No past meetings yet.")),
            ],
            "has_meetings": bool(meetings),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def meeting_create(request: HttpRequest) -> HttpResponse:
    """A form to create a meeting you host; on success, its detail page."""
    form = MeetingForm(request.POST or None)
    return _meeting_form(
        request, form, None,
        lambda: services.meeting_create(host=request.user, **form.cleaned_data),
        _("Meeting created. Invite people, then join."))


@login_required
@require_http_methods(["GET", "POST"])
def meeting_edit(request: HttpRequest, meeting_id: uuid.UUID) -> HttpResponse:
    """The host changes title, schedule, access or capacity (not once ended)."""
    meeting = _hosted_meeting(request, meeting_id)
    if meeting.status == Meeting.Status.ENDED:
        messages.error(request, _("The meeting has ended and can no longer be changed."))
        return redirect("web:meeting-detail", meeting_id=meeting.id)
    form = MeetingForm(request.POST or None, initial=MeetingForm.initial_for(meeting))
    return _meeting_form(
        request, form, meeting,
        lambda: services.meeting_update(meeting=meeting, actor=request.user,
                                        **form.cleaned_data),
        _("Meeting updated."))


def _meeting_form(request: HttpRequest, form: MeetingForm, meeting: Meeting | None,
                  save: Callable[[], Meeting], done: str) -> HttpResponse:
    """The create and edit pages: a valid submission is saved (``save``), its refusal
    (ApplicationError) shown on the form; once saved, ``done`` and the meeting's page."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save()
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, done)
            return redirect("web:meeting-detail", meeting_id=saved.id)
    return render(
        request, "meetings/form.html", {"form": form, "meeting": meeting}, status=_status(form)
    )


def _status(form: MeetingForm) -> int:
    """400 for a submitted form with errors, so tests and tools can tell."""
    return 400 if form.is_bound and form.errors else 200


@login_required
def meeting_detail(request: HttpRequest, meeting_id: uuid.UUID) -> HttpResponse:
    """The meeting: schedule, status, participants and attendance; host actions."""
    meeting = _visible_meeting(request, meeting_id)
    is_host = selectors.user_is_host(meeting=meeting, user=request.user)
    return render(
        request,
        "meetings/detail.html",
        {
            "meeting": meeting,
            "is_host": is_host,
            "participants": selectors.participant_list(meeting=meeting),
            "invite_form": InviteForm() if is_host else None,
            "call_url": request.build_absolute_uri(
                reverse("web:meeting-call", kwargs={"meeting_id": meeting.id})
            ),
            "can_join": selectors.user_can_join(meeting=meeting, user=request.user),
        },
    )


@login_required
@require_POST
def meeting_invite(request: HttpRequest, meeting_id: uuid.UUID) -> HttpResponse:
    """The host invites a user by username."""
    meeting = _hosted_meeting(request, meeting_id)
    form = InviteForm(request.POST)
    if form.is_valid():
        username = form.cleaned_data["username"].strip()
        try:
            services.participant_invite(meeting=meeting, actor=request.user, username=username)
        except ApplicationError as error:
            messages.error(request, _invite_error(error, username))
        else:
            messages.success(request, _("%(username)s is invited.") % {"username": username})
    else:
        messages.error(request, _("Enter a username to invite."))
    return redirect("web:meeting-detail", meeting_id=meeting.id)


def _invite_error(error: ApplicationError, username: str) -> str:
    """The services' English message, translated for the usual cases."""
    if error.code == ErrorCode.NOT_FOUND:
        return _("There is no user called %(username)s.") % {"username": username}
    if error.code == ErrorCode.CONFLICT:
        return _("%(username)s is already a participant.") % {"username": username}
    if error.code == ErrorCode.GONE:
        return _("The meeting has ended.")
    return error.message


@login_required
@require_POST
def meeting_remove_participant(
    request: HttpRequest, meeting_id: uuid.UUID, username: str
) -> HttpResponse:
    """The host removes a participant; their open call is closed by the service's event."""
    meeting = _hosted_meeting(request, meeting_id)
    try:
        services.participant_remove(meeting=meeting, actor=request.user, username=username)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(username)s was removed.") % {"username": username})
    return redirect("web:meeting-detail", meeting_id=meeting.id)


@login_required
@require_POST
def meeting_end(request: HttpRequest, meeting_id: uuid.UUID) -> HttpResponse:
    """The host ends the meeting for everyone in it."""
    meeting = _hosted_meeting(request, meeting_id)
    try:
        services.meeting_end(meeting=meeting, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The meeting has ended for everyone."))
    return redirect("web:meeting-detail", meeting_id=meeting.id)


@login_required
def meeting_call(request: HttpRequest, meeting_id: uuid.UUID) -> HttpResponse:
    """The call page: pre-join preview, then the call (mediasoup-client over the WebSocket).

    The page opens the meeting WebSocket only when the user presses Join, because connecting
    is what marks them present. An ended meeting gets the page with an explanation (410).
    """
    meeting = _visible_meeting(request, meeting_id)
    refusal = selectors.join_refusal(meeting=meeting, user=request.user)
    lobby = refusal is not None and refusal.code == ErrorCode.FORBIDDEN and (
        meeting.access == Meeting.Access.LOBBY)
    if refusal is not None and refusal.code == ErrorCode.FORBIDDEN and not lobby:
        raise PermissionDenied(refusal.message)
    is_host = selectors.user_is_host(meeting=meeting, user=request.user)
    config = {
        "meetingId": str(meeting.id),
        "wsPath": f"/ws/meetings/{meeting.id}/",
        "userId": request.user.pk,
        "displayName": display_name_for(request.user),
        "isHost": is_host,
        "lobby": lobby,
        "chatMaxChars": collab_limits().chat_max_chars,
        "title": meeting.title,
        "detailUrl": reverse("web:meeting-detail", kwargs={"meeting_id": meeting.id}),
        "listUrl": reverse("web:meeting-list"),
        "strings": call_strings(),
    }
    ended = meeting.status == Meeting.Status.ENDED
    return render(
        request,
        "meetings/call.html",
        {
            "meeting": meeting,
            "is_host": is_host,
            "config": config,
            "ended": ended,
            "full": refusal is not None and refusal.code == ErrorCode.FULL,
        },
        status=410 if ended else 200,
    )
