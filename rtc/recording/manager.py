"""The process's recordings: at most one session per meeting, on the loop that owns the calls.

:data:`recorder` is started on first use. It follows ``rtc.signals.track_published`` to hand
new producers to the session of their meeting, tells the meeting when a recording starts and
stops (``rtc:recordingStarted``, ``rtc:recordingStopped``, to everyone), and calls the
listeners registered with :meth:`RecordingManager.on_stopped` (the ``recordings`` app, which
stores the outcome and composes the file) once a session's files are closed.

:meth:`RecordingManager.close` (server shutdown) stops every session with reason
``server_shutdown`` before the calls close, so each track's file is finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtc import signals
from rtc.recording.session import RecordingSession
from rtc.recording.tool import ffmpeg_binary
from rtc.services import get_room_service, notify
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["RECORDING_STARTED", "RECORDING_STOPPED", "RecordingManager", "recorder"]

logger = logging.getLogger(__name__)

RECORDING_STARTED = "rtc:recordingStarted"
RECORDING_STOPPED = "rtc:recordingStopped"

StopListener = Callable[[RecordingSession], Any]


class RecordingManager:
    """Recording sessions by meeting id."""

    def __init__(self) -> None:
        self.sessions: dict[str, RecordingSession] = {}
        self._listeners: list[StopListener] = []
        self._connected = False
        self._lock = asyncio.Lock()
        self.closing = False
        """True once :meth:`close` ran (shutdown): finished sessions are not composed here."""

    def _connect(self) -> None:
        if not self._connected:
            signals.track_published.connect(self._on_track_published,
                                            dispatch_uid="rtc.recording.track_published")
            self._connected = True

    def on_stopped(self, listener: StopListener) -> None:
        """Call ``listener(session)`` (sync or async) when a session has stopped."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def active(self, meeting_id: Any) -> RecordingSession | None:
        """The meeting's running session, if any."""
        session = self.sessions.get(str(meeting_id))
        return session if session is not None and session.active else None

    def state(self, meeting_id: Any) -> dict[str, Any] | None:
        """``{recordingId, startedAt}`` of the meeting's running recording, or None."""
        session = self.active(meeting_id)
        return session.info() if session is not None else None

    async def start(self, *, meeting_id: Any, recording_id: str, directory: Path,
                    max_duration: float, started_by: str = "",
                    min_free_mb: float = 0) -> RecordingSession:
        """Start recording the meeting's call; ``not_found`` without a call here, ``invalid``
        (conflict) when it is being recorded already."""
        meeting_id = str(meeting_id)
        self._connect()
        ffmpeg = ffmpeg_binary()
        async with self._lock:
            if self.active(meeting_id) is not None:
                raise SignalingError(ErrorCode.INVALID, "the call is being recorded already")
            session = RecordingSession(
                recording_id=recording_id, meeting_id=meeting_id,
                room_service=get_room_service(), directory=directory, ffmpeg=ffmpeg,
                max_duration=max_duration, min_free_mb=min_free_mb, on_stop=self._stopped)
            self.sessions[meeting_id] = session
            try:
                await session.start()
            except BaseException:
                self.sessions.pop(meeting_id, None)
                raise
        await notify.broadcast(meeting_id, RECORDING_STARTED,
                               {**session.info(), "startedBy": started_by})
        return session

    async def stop(self, meeting_id: Any, *, recording_id: str | None = None,
                   reason: str = "stopped") -> dict[str, Any]:
        """Stop the meeting's recording (the one with ``recording_id`` when given); its
        manifest. ``not_found`` when it is not recording here."""
        session = self.sessions.get(str(meeting_id))
        if session is None or (recording_id is not None
                               and session.recording_id != str(recording_id)):
            raise SignalingError(ErrorCode.NOT_FOUND, "no recording running for that meeting")
        return await session.stop(reason)

    async def _stopped(self, session: RecordingSession) -> None:
        if self.sessions.get(session.meeting_id) is session:
            del self.sessions[session.meeting_id]
        await notify.broadcast(session.meeting_id, RECORDING_STOPPED, {
            "recordingId": session.recording_id, "reason": session.stop_reason})
        for listener in list(self._listeners):
            try:
                result = listener(session)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                logger.exception("recording stop listener failed [recording:%s]",
                                 session.recording_id)

    def _on_track_published(self, sender: Any, meeting_id: str, producer_id: str,
                            **kwargs: Any) -> None:
        session = self.active(meeting_id)
        if session is not None:
            session.producer_published(producer_id)

    async def close(self, reason: str = "server_shutdown") -> int:
        """Stop every session (shutdown); how many were stopped."""
        self.closing = True
        sessions = [s for s in self.sessions.values() if s.active]
        await asyncio.gather(*(s.stop(reason) for s in sessions), return_exceptions=True)
        return len(sessions)


recorder = RecordingManager()
"""The process's recording manager."""
