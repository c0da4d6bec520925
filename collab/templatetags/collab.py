"""Template tags that put the collaboration record on the meeting page: the chat transcript
and the whiteboard export links, for the people allowed to read them."""

from __future__ import annotations

from typing import Any

from django import template

from collab import chat
from collab.models import Whiteboard

register = template.Library()

TRANSCRIPT_LIMIT = 2000


@register.inclusion_tag("collab/meeting_record.html")
def meeting_record(meeting: Any, user: Any) -> dict[str, Any]:
    """The transcript (messages ``user`` may read, oldest first) and the board's export
    links; nothing for someone who is not a participant."""
    if not chat.user_may_read_chat(meeting=meeting, user=user):
        return {"allowed": False}
    messages = list(chat.messages_visible_to(meeting_id=meeting.pk, user=user)
                    .select_related(None)[:TRANSCRIPT_LIMIT])
    board = Whiteboard.objects.filter(meeting_id=meeting.pk).first()
    return {"allowed": True, "meeting": meeting, "messages": messages, "user": user,
            "has_board": board is not None and board.seq > 0}
