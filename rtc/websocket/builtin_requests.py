"""Built-in meeting socket requests: `ping` and `meeting:state`."""

from __future__ import annotations

from typing import Any

from conference.db_threads import db_call
from conference.errors import ApplicationError, ErrorCode
from meetings import events, selectors
from meetings.models import Meeting
from rtc.websocket.envelope import Connection, Envelope, registry


@registry.register("ping")
async def ping(conn: Connection, request: Envelope) -> dict[str, Any]:
    """Liveness check for clients and load balancers behind the socket."""
    return {"type": "pong"}


def meeting_state_snapshot(meeting_id: Any) -> dict[str, Any]:
    """The meeting and who is present now, as one JSON-ready snapshot (synchronous)."""
    meeting = Meeting.objects.select_related("host").filter(pk=meeting_id).first()
    if meeting is None:
        raise ApplicationError("Meeting not found.", code=ErrorCode.NOT_FOUND)
    present = selectors.participants_present(meeting=meeting)
    return {
        "type": "meeting.state",
        "meeting": events.meeting_payload(meeting),
        "participants": [events.participant_payload(p) for p in present],
    }


meeting_state = db_call(meeting_state_snapshot)
"""`meeting_state_snapshot` from async code (on a database thread)."""


@registry.register("meeting:state")
async def meeting_state_request(conn: Connection, request: Envelope) -> dict[str, Any]:
    """A fresh snapshot, e.g. after the client missed events."""
    return await meeting_state(conn.meeting_id)
