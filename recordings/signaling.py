"""``rtc:startRecording`` and ``rtc:stopRecording`` on the meeting socket (imported at start-up
by ``rtc.apps``, which autodiscovers each app's ``signaling`` module).

Only a peer in the call may ask: a signed-in user who hosts the meeting, or a token holder
with the ``record`` (or ``host``) grant (checked first by ``rtc.policy.grants``). Everyone in the
call, the asker included, then gets ``rtc:recordingStarted`` / ``rtc:recordingStopped``.
"""

from __future__ import annotations

from typing import Any

from recordings import live
from rtc.policy import grants
from rtc.policy.grants import connection_grants
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.handlers import service_of
from rtc.signaling.replies import RecordingStartedReply, RecordingStoppedReply
from rtc.signaling.routes import route
from rtc.signaling.schemas import EmptyRequest
from rtc.websocket.envelope import Connection

__all__: list[str] = []


def _may_record(conn: Connection) -> Any:
    room, peer = service_of(conn).peer_of(conn.channel_name)
    if connection_grants(conn) is None and not peer.is_host:
        raise SignalingError(ErrorCode.FORBIDDEN, "only the host may record the call")
    return peer


@route("rtc:startRecording", schema=EmptyRequest, grant=grants.record,
       reply=RecordingStartedReply, events=("rtc:recordingStarted",))
async def start_recording(conn: Connection, request: EmptyRequest) -> dict[str, Any]:
    """Start recording the call; refused (``conflict``) when it is recorded already."""
    peer = _may_record(conn)
    recording = await live.start_recording(meeting_id=conn.meeting_id,
                                           started_by_id=conn.user.pk,
                                           started_by_name=peer.display_name)
    return {"type": "rtc:recordingStarted", "recordingId": str(recording.pk),
            "status": recording.status}


@route("rtc:stopRecording", schema=EmptyRequest, grant=grants.record,
       reply=RecordingStoppedReply, events=("rtc:recordingStopped",))
async def stop_recording(conn: Connection, request: EmptyRequest) -> dict[str, Any]:
    """Stop the call's recording; it is composed in the background."""
    _may_record(conn)
    recording = await live.stop_recording(meeting_id=conn.meeting_id)
    return {"type": "rtc:recordingStopped", "recordingId": str(recording.pk),
            "status": recording.status}
