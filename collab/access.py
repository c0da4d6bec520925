"""Who counts as the host of a meeting for the collaboration features.

The same rule as the call (`rtc.services.room_service`): a connection with a join token is a
host exactly when its grants say so; a signed-in user when they host the meeting (its host,
or the participant with the host role).
"""

from __future__ import annotations

from typing import Any

from meetings import selectors
from meetings.models import Meeting, Participant

__all__ = ["is_meeting_host", "require_host"]


def is_meeting_host(*, meeting: Meeting, user: Any, host_by_grant: bool | None = None) -> bool:
    """Whether ``user`` may act as host; ``host_by_grant`` is the join token's host grant
    (None for a signed-in user, whose role in the meeting decides)."""
    if host_by_grant is not None:
        return host_by_grant
    if selectors.user_is_host(meeting=meeting, user=user):
        return True
    return Participant.objects.filter(meeting=meeting, user=user,
                                      role=Participant.Role.HOST).exists()


def require_host(*, meeting: Meeting, user: Any, host_by_grant: bool | None, action: str) -> None:
    """Raise ``forbidden`` unless ``user`` may act as host."""
    from conference.errors import ApplicationError, ErrorCode

    if not is_meeting_host(meeting=meeting, user=user, host_by_grant=host_by_grant):
        raise ApplicationError(f"Only the host may {action}.", code=ErrorCode.FORBIDDEN)
