"""Web views of the collaboration features: the whiteboard exported as SVG or PNG.

For the meeting page (its participants and host only; anyone else gets 404). The transcript
itself is rendered into the meeting page by the ``collab`` template tags.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from collab import chat, whiteboard
from collab.board_render import board_png, board_svg
from meetings.models import Meeting

__all__ = ["whiteboard_export"]

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


@login_required
def whiteboard_export(request: HttpRequest, meeting_id: uuid.UUID, fmt: str) -> HttpResponse:
    """The meeting's whiteboard as a file to download (``fmt``: ``svg`` or ``png``)."""
    meeting = Meeting.objects.filter(pk=meeting_id).select_related("host").first()
    if fmt not in FORMATS or meeting is None or not chat.user_may_read_chat(
            meeting=meeting, user=request.user):
        raise Http404(_("Meeting not found."))
    elements = whiteboard.board_elements(meeting_id=meeting.pk)
    body: str | bytes = board_svg(elements) if fmt == "svg" else board_png(elements)
    response = HttpResponse(body, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="whiteboard-{meeting.pk}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
