"""The admin's live page (``/admin/live/``): every call of the service, as it is right now.

For each meeting with a live call: its worker and router, its peers, each peer's transports
(ICE/DTLS state, bytes, bitrates), producers and consumers (score, bitrate, packets, loss), with
figures from a fresh :func:`rtc.operations.media_sampling.sample_media`. On a cluster every live
node is asked for its part (`rtc.cluster.ops`), each call is labelled with the node running it, a
node that does not answer is named, and a staff action runs on the call's node whichever node served
the page. Staff can mute a producer or remove a peer, the host's actions
(:func:`rtc.operations.media_sampling.staff_mute`,
:func:`rtc.operations.media_sampling.staff_remove`, the integrations' live-room API's too).

An async view: the figures come from the worker pool, which lives in the server's event loop,
so the view must run in that loop (a sync view would run in a thread with no access to it).
Staff only; everyone else is sent to the admin login, and their POSTs change nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from meetings.models import Meeting
from rtc.cluster.ops import on_every_node
from rtc.operations.media_sampling import staff_mute, staff_remove
from rtc.signaling.errors import SignalingError

__all__ = ["live_meetings"]

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 10
"""The page reloads itself this often (figures are a snapshot)."""


def _titles(meeting_ids: list[str]) -> dict[str, str]:
    rows = Meeting.objects.filter(pk__in=meeting_ids).values_list("pk", "title")
    return {str(pk): title for pk, title in rows}


def _render(request: HttpRequest, rooms: list[dict[str, Any]], sample: dict[str, Any]
            ) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": _("Live meetings"),
        "rooms": rooms,
        "sample": sample,
        "refresh_seconds": REFRESH_SECONDS,
        "totals": {
            "rooms": len(rooms),
            "peers": sum(r["counts"]["peers"] for r in rooms),
            "producers": sum(r["counts"]["producers"] for r in rooms),
            "consumers": sum(r["counts"]["consumers"] for r in rooms),
        },
    }
    return render(request, "rtc/admin/live.html", context)


async def _act(request: HttpRequest, user: Any) -> None:
    """Carry out a POSTed staff action and leave a message saying how it went."""
    action = request.POST.get("action", "")
    meeting_id = request.POST.get("meeting", "")
    try:
        if action == "mute":
            owner = await staff_mute(meeting_id, request.POST.get("producer", ""), actor=user)
            messages.success(request, _("Muted a track of %(name)s.")
                             % {"name": owner["display_name"]})
        elif action == "remove":
            target = await staff_remove(meeting_id, request.POST.get("peer", ""), actor=user)
            messages.success(request, _("Removed %(name)s from the call.")
                             % {"name": target["display_name"]})
        else:
            messages.error(request, _("Unknown action."))
    except SignalingError as error:
        messages.error(request, error.message)


@never_cache
async def live_meetings(request: HttpRequest) -> HttpResponse:
    """GET: the live calls. POST (``action`` = ``mute`` or ``remove``): act, then redirect."""
    user = await request.auser()
    if not (user.is_active and user.is_staff):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if request.method == "POST":
        await _act(request, user)
        return HttpResponseRedirect(request.path)
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    view = await on_every_node("live.overview")
    rooms = sorted(({**room, "node": node_id} for node_id, part in view.answers
                    for room in part["rooms"]), key=lambda r: r["meetingId"])
    sample = {"errors": sum(part["errors"] for _, part in view.answers),
              "missingNodes": view.missing}
    titles = await sync_to_async(_titles)([r["meetingId"] for r in rooms])
    for room in rooms:
        room["title"] = titles.get(room["meetingId"], "")
    return await sync_to_async(_render)(request, rooms, sample)
