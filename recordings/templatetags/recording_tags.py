"""``{% recordings_section meeting %}``: the meeting page's list of recordings with a player.

An inclusion tag, so the meetings app's view and template need only this one line."""

from __future__ import annotations

from typing import Any

from django import template

from meetings import selectors as meeting_selectors
from recordings import selectors
from recordings.models import Recording

register = template.Library()


@register.inclusion_tag("recordings/_section.html", takes_context=True)
def recordings_section(context: dict[str, Any], meeting: Any) -> dict[str, Any]:
    """The meeting's recordings (every status), and whether the viewer is its host."""
    request = context["request"]
    return {
        "meeting": meeting,
        "recordings": list(selectors.recording_list(meeting=meeting)),
        "is_host": meeting_selectors.user_is_host(meeting=meeting, user=request.user),
        "ready": Recording.Status.READY,
        "csrf_token": context.get("csrf_token"),
    }
