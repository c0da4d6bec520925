"""Starting and stopping a meeting's recording: the database and the live recorder together.

Runs on the event loop that owns the calls (the API views hand it there with
``async_to_sync``; the socket handlers are there already). In a cluster the node owning the
meeting's call records it: another node asked (its API, or a socket whose call runs
elsewhere) hands the start and the stop to the owner through the cluster relay (the
operations ``recordings.start`` / ``recordings.stop``, `rtc.cluster.ops.on_owner`), so any
node answers the same. Refusals are ``ApplicationError`` with code ``conflict`` (no call in
progress, a recording running already, too little disk space, the owner gone) so the API
answers 409 and the socket an error reply.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from channels.db import database_sync_to_async

from conference.errors import ApplicationError, ErrorCode
from recordings import handover, processing, selectors, services
from recordings.config import recording_settings
from recordings.models import Recording
from rtc import cluster
from rtc.cluster import ops
from rtc.recording.manager import recorder
from rtc.recording.session import RecordingSession
from rtc.services import get_room_service
from rtc.signaling.errors import SignalingError

__all__ = ["session_stopped", "start_here", "start_recording", "stop_recording"]

logger = logging.getLogger(__name__)

START = "recordings.start"
STOP = "recordings.stop"


def _free_mb(path: Path) -> float:
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free / 2**20


def _has_call(meeting_id: str) -> bool:
    room = get_room_service().rooms.get(meeting_id)
    return room is not None and not room.closed


async def start_recording(*, meeting_id: Any, started_by_id: Any = None,
                          started_by_name: str = "") -> Recording:
    """Start recording the meeting's call on the node that owns it (this process, or another
    node of the cluster through its relay); the new recording."""
    recording_id = await _on_owner(str(meeting_id), START, started_by_id=started_by_id,
                                   started_by_name=started_by_name)
    return await database_sync_to_async(Recording.objects.get)(pk=recording_id)


async def start_here(*, meeting_id: str, started_by_id: Any, started_by_name: str,
                     continues: str = "") -> Recording:
    """Start recording the call running in this process (``continues``: the recording of the
    same call that a drained node stopped, `recordings.handover`)."""
    config = recording_settings()
    if not _has_call(meeting_id):
        raise ApplicationError("The meeting has no call in progress.", code=ErrorCode.CONFLICT)
    if recorder.active(meeting_id) is not None:
        raise ApplicationError("This meeting is being recorded already.",
                               code=ErrorCode.CONFLICT)
    if config.min_free_mb and _free_mb(config.work_dir) < config.min_free_mb:
        raise ApplicationError("Not enough disk space to record.", code=ErrorCode.CONFLICT)
    node = cluster.local_node()
    recording = await database_sync_to_async(services.recording_create)(
        meeting_id=meeting_id, started_by_id=started_by_id, work_root=config.work_dir,
        node=config.node, recorder=node.id if node is not None else "", continues=continues)
    try:
        await recorder.start(meeting_id=meeting_id, recording_id=str(recording.pk),
                             directory=Path(recording.work_dir),
                             max_duration=config.max_duration, started_by=started_by_name,
                             min_free_mb=config.min_free_mb)
    except Exception as error:
        reason = error.message if isinstance(error, SignalingError) else str(error)
        await database_sync_to_async(services.recording_mark_failed)(
            recording_id=recording.pk, reason=f"could not start: {reason}")
        logger.warning("recording did not start [recording:%s, meeting:%s]: %s",
                       recording.pk, meeting_id, reason)
        raise ApplicationError("The recording could not start.",
                               code=ErrorCode.CONFLICT) from None
    return recording


async def stop_recording(*, meeting_id: Any, recording_id: Any = None) -> Recording:
    """Stop the meeting's running recording (``recording_id``'s when given), on whichever
    node records it; it is then ``processing``. Conflict when none runs."""
    meeting_id = str(meeting_id)
    rid = None if recording_id is None else str(recording_id)
    if recorder.active(meeting_id) is not None:  # recorded here
        return await _stop_here(meeting_id=meeting_id, recording_id=rid)
    stopped = await _on_owner(meeting_id, STOP, recording_id=rid)
    return await database_sync_to_async(Recording.objects.get)(pk=stopped)


async def _stop_here(*, meeting_id: str, recording_id: str | None) -> Recording:
    session = recorder.active(meeting_id)
    if session is not None and (recording_id is None or session.recording_id == recording_id):
        await recorder.stop(meeting_id, reason="stopped")
        return await database_sync_to_async(Recording.objects.get)(pk=session.recording_id)
    running = await database_sync_to_async(selectors.running_recording)(meeting_id=meeting_id)
    if running is None or (recording_id is not None and str(running.pk) != recording_id):
        raise ApplicationError("No recording of this meeting is running.",
                               code=ErrorCode.CONFLICT)
    if running.node != recording_settings().node:
        raise ApplicationError("This recording is made by another server.",
                               code=ErrorCode.CONFLICT)
    # Its process is gone (a crash): finish what was saved.
    await processing.recover_recording(running, reason="stopped")
    return await database_sync_to_async(Recording.objects.get)(pk=running.pk)


async def _on_owner(meeting_id: str, name: str, **args: Any) -> str:
    """Run a recordings operation on the node owning the call; the recording's id. A refusal
    relayed from another node is raised as the same ApplicationError (an owner that is gone
    or silent: conflict)."""
    try:
        return str(await ops.on_owner(meeting_id, name, meeting_id=meeting_id, **args))
    except SignalingError as error:
        # An owner that is gone or did not answer is the call's state, not a server fault.
        gone = error.code in (ErrorCode.INTERNAL, ErrorCode.UNAVAILABLE)
        raise ApplicationError(error.message,
                               code=ErrorCode.CONFLICT if gone else ErrorCode(error.code)) from None


@ops.operation(START)
async def _start_operation(*, service: Any, meeting_id: str, started_by_id: Any,
                           started_by_name: str) -> str:
    """``recordings.start``: start recording the call here; the recording's id."""
    recording = await start_here(meeting_id=meeting_id, started_by_id=started_by_id,
                                 started_by_name=started_by_name)
    return str(recording.pk)


@ops.operation(STOP)
async def _stop_operation(*, service: Any, meeting_id: str, recording_id: str | None) -> str:
    """``recordings.stop``: stop the recording made here; its id."""
    recording = await _stop_here(meeting_id=meeting_id, recording_id=recording_id)
    return str(recording.pk)


async def session_stopped(session: RecordingSession) -> None:
    """The recorder closed a session's files: store the outcome, compose in the background
    (not while the server stops: the next start finishes it)."""
    details = {"incidents": list(session.incidents)}
    recording = await database_sync_to_async(services.recording_mark_processing)(
        recording_id=session.recording_id, ended_at=None, duration=session.duration,
        stop_reason=session.stop_reason, details=details)
    if recording is None:
        return
    if session.stop_reason == "node_draining":
        await handover.leave_note(recording)
    if session.stop_reason in ("disk_full", "permission_denied", "tool_missing"):
        await database_sync_to_async(services.recording_mark_failed)(
            recording_id=session.recording_id,
            reason=f"recording stopped: {session.stop_reason.replace('_', ' ')}")
        return
    if not recorder.closing:
        processing.schedule(session.recording_id)
