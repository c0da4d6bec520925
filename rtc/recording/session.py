"""One meeting's recording: every producer of the call, as it comes and goes, into files.

The session starts a :class:`rtc.recording.track.TrackRecorder` for each producer open when it
starts and for each one published later (``rtc.signals.track_published``); a track's segment
ends with its producer. A track whose FFmpeg exits by itself (killed, crashed) gets a new
segment after a short pause, up to ``MAX_RESTARTS`` times; a full disk stops the whole
recording. When a worker dies the call's router goes with every recording transport on it:
those segments end (``router_closed``), an incident is noted, and the producers the peers
publish again on the rebuilt router are recorded as new segments, so the file has a gap.

A watchdog stops the recording when the call ends (its room closes: last peer gone, meeting
ended) or when ``max_duration`` is reached. :meth:`stop` ends every segment and writes
``manifest.json``: the segments with their times, the incidents, the duration and the reason.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from rtc.recording.tasks import detached_task
from rtc.recording.track import TrackRecorder
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["MANIFEST", "MAX_RESTARTS", "RecordingSession", "SessionState"]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MAX_RESTARTS = 3
"""New segments for one producer after its tool exited by itself."""
RESTART_DELAY = 0.5
WATCH_INTERVAL = 0.25
MANIFEST_EVERY = 8
"""Watchdog ticks between manifest writes and disk space checks (about 2 s)."""
FATAL_REASONS = frozenset({"disk_full", "permission_denied", "tool_missing"})
"""Tool failures that stop the whole recording: every track would fail the same way."""


class SessionState(StrEnum):
    """Lifecycle of a session."""

    STARTING = "starting"
    RECORDING = "recording"
    STOPPING = "stopping"
    STOPPED = "stopped"


class RecordingSession:
    """Records the call of ``meeting_id`` (a room of ``room_service``) into ``directory``."""

    def __init__(self, *, recording_id: str, meeting_id: str, room_service: Any,
                 directory: Path, ffmpeg: str, max_duration: float, min_free_mb: float = 0,
                 on_stop: Callable[[RecordingSession], Any] | None = None) -> None:
        self.recording_id = recording_id
        self.meeting_id = meeting_id
        self.room_service = room_service
        self.directory = directory
        self.ffmpeg = ffmpeg
        self.max_duration = max_duration
        self.min_free_mb = min_free_mb
        self.on_stop = on_stop
        self.state = SessionState.STARTING
        self.started_at = datetime.now(UTC)
        self._t0 = time.monotonic()
        self.duration = 0.0
        self.stop_reason = ""
        self.tracks: dict[str, TrackRecorder] = {}
        """Producer id → its recorder now."""
        self.ended: list[TrackRecorder] = []
        self.incidents: list[dict[str, Any]] = []
        self.restarts: dict[str, int] = {}
        self._count = 0
        self._routers: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.Task[Any] | None = None
        self._stopped = asyncio.Event()

    # -- clock and lookups --------------------------------------------------------------------

    def clock(self) -> float:
        """Seconds since the recording started."""
        return time.monotonic() - self._t0

    def _room(self) -> Any:
        room = self.room_service.rooms.get(self.meeting_id)
        return None if room is None or room.closed else room

    @property
    def active(self) -> bool:
        """Whether it still records (or is about to)."""
        return self.state in (SessionState.STARTING, SessionState.RECORDING)

    def info(self) -> dict[str, Any]:
        """What the call page shows: id and start."""
        return {"recordingId": self.recording_id,
                "startedAt": self.started_at.isoformat().replace("+00:00", "Z")}

    # -- start --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Record every open producer of the call and watch it; ``not_found`` without one."""
        room = self._room()
        if room is None:
            raise SignalingError(ErrorCode.NOT_FOUND, "no live call for that meeting")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._t0 = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.state = SessionState.RECORDING
        self._watchdog = detached_task(self._watch())
        await asyncio.gather(*(self.add_producer(p) for p in list(room.producer_owner)))
        logger.info("recording started [recording:%s, meeting:%s, tracks:%s]",
                    self.recording_id, self.meeting_id, len(self.tracks))

    def producer_published(self, producer_id: str) -> None:
        """A producer appeared in the call (a signal receiver: returns at once)."""
        if self.active:
            self._spawn(self.add_producer(producer_id))

    async def add_producer(self, producer_id: str) -> None:
        """Start recording one producer of the call (no-op if recorded or gone). Tracks start
        concurrently: the checks and the reservation below run without an await between."""
        room = self._room()
        if not self.active or room is None or producer_id in self.tracks:
            return
        owner = room.producer_owner.get(producer_id)
        producer = owner.producers.get(producer_id) if owner is not None else None
        if producer is None or producer.closed:
            return
        router = room.router_of(producer_id)  # where it was made (a call may span routers)
        self._watch_router(router)
        self._count += 1
        name = f"{self._count:03d}-{producer.kind}"
        track = TrackRecorder(router=router, producer=producer, peer=owner,
                              directory=self.directory, name=name, clock=self.clock,
                              ffmpeg=self.ffmpeg, on_end=self._track_ended)
        self.tracks[producer_id] = track
        try:
            await track.start()
        except Exception as error:
            if self.tracks.get(producer_id) is track:
                del self.tracks[producer_id]
            reason = getattr(error, "reason", "")
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                reason = "disk_full"  # not even the track's file could be made
            self._incident("track_failed", f"{name}: {error}"[:300], producer_id)
            logger.warning("cannot record producer [recording:%s, producer:%s]: %s",
                           self.recording_id, producer_id, error)
            if reason in FATAL_REASONS:
                self._spawn(self.stop(reason))
            return
        if not self.active:  # stopped while this track started
            await track.stop("stopped")
        else:
            self.write_manifest()

    def _watch_router(self, router: Any) -> None:
        if router.id in self._routers:
            return
        self._routers.add(router.id)

        def closed() -> None:
            if self.active and self._room() is not None:
                self._incident("media_server_restarted", "the call moved to a new router")

        router.on("workerclose", closed)

    # -- tracks ending ------------------------------------------------------------------------

    def _track_ended(self, track: TrackRecorder) -> None:
        producer_id = track.producer.id
        if self.tracks.get(producer_id) is track:
            del self.tracks[producer_id]
        self.ended.append(track)
        reason = track.segment.end_reason
        if not self.active or reason in ("producer_closed", "router_closed", "stopped"):
            return
        self._incident("tool_exited", f"{track.name}: {reason}", producer_id)
        if reason in FATAL_REASONS:
            self._spawn(self.stop(reason))
            return
        restarts = self.restarts.get(producer_id, 0)
        if restarts >= MAX_RESTARTS:
            self._incident("track_abandoned", f"{track.name}: too many restarts", producer_id)
            return
        self.restarts[producer_id] = restarts + 1
        self._spawn(self._restart(producer_id))

    async def _restart(self, producer_id: str) -> None:
        await asyncio.sleep(RESTART_DELAY)
        await self.add_producer(producer_id)

    def _incident(self, kind: str, detail: str, producer_id: str | None = None) -> None:
        entry: dict[str, Any] = {"at": round(self.clock(), 3), "kind": kind, "detail": detail}
        if producer_id:
            entry["producerId"] = producer_id
        self.incidents.append(entry)
        logger.warning("recording incident [recording:%s, kind:%s]: %s", self.recording_id,
                       kind, detail)

    # -- watching and stopping ----------------------------------------------------------------

    async def _watch(self) -> None:
        ticks = 0
        while self.active:
            await asyncio.sleep(WATCH_INTERVAL)
            ticks += 1
            if not self.active:
                return
            if self._room() is None:
                self._spawn(self.stop("call_ended"))
                return
            if self.max_duration and self.clock() >= self.max_duration:
                self._spawn(self.stop("max_duration"))
                return
            if ticks % MANIFEST_EVERY == 0:
                if self.min_free_mb and self._free_mb() < self.min_free_mb:
                    self._incident("disk_full", "free space fell below the minimum")
                    self._spawn(self.stop("disk_full"))
                    return
                self.write_manifest()

    def _free_mb(self) -> float:
        return shutil.disk_usage(self.directory).free / 2**20

    def write_manifest(self) -> None:
        """Write ``manifest.json`` now (while recording too: what a restart recovers from)."""
        try:
            (self.directory / MANIFEST).write_text(json.dumps(self.manifest(), indent=1))
        except OSError as error:
            logger.warning("cannot write the manifest [recording:%s]: %s", self.recording_id,
                           error)

    async def stop(self, reason: str = "stopped") -> dict[str, Any]:
        """End every segment, write the manifest; the manifest (idempotent: concurrent and
        later callers get the same)."""
        if self.state in (SessionState.STOPPING, SessionState.STOPPED):
            await self._stopped.wait()
            return self.manifest()
        self.state = SessionState.STOPPING
        self.stop_reason = reason
        self.duration = self.clock()
        current = asyncio.current_task()
        if self._watchdog is not None and self._watchdog is not current:
            self._watchdog.cancel()
        tracks = list(self.tracks.values())
        await asyncio.gather(*(self._stop_track(track) for track in tracks),
                             return_exceptions=True)
        for task in list(self._tasks):
            if task is not current and not task.done():
                task.cancel()
        self.state = SessionState.STOPPED
        manifest = self.manifest()
        self.write_manifest()
        self._stopped.set()
        logger.info("recording stopped [recording:%s, meeting:%s, reason:%s, seconds:%.1f, "
                    "segments:%s]", self.recording_id, self.meeting_id, reason, self.duration,
                    len(manifest["segments"]))
        if self.on_stop is not None:
            try:
                result = self.on_stop(self)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                logger.exception("recording stop callback failed [recording:%s]",
                                 self.recording_id)
        return manifest

    @staticmethod
    async def _stop_track(track: TrackRecorder) -> None:
        await track.started.wait()  # a track being started finishes starting first
        await track.stop("stopped")

    def manifest(self) -> dict[str, Any]:
        """The recording as the composer reads it (while recording, running segments have
        no ``end`` and ``duration`` is the time so far)."""
        tracks = self.ended + [t for t in self.tracks.values() if t.tool is not None]
        segments = sorted((t.segment for t in tracks), key=lambda s: (s.start, s.file))
        return {
            "version": 1,
            "recordingId": self.recording_id,
            "meetingId": self.meeting_id,
            "startedAt": self.started_at.isoformat(),
            "duration": round(self.duration if not self.active else self.clock(), 3),
            "final": self.state == SessionState.STOPPED,
            "stopReason": self.stop_reason,
            "segments": [s.as_dict() for s in segments],
            "incidents": list(self.incidents),
        }

    def _spawn(self, coro: Any) -> None:
        task = detached_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("recording task failed [recording:%s]", self.recording_id,
                         exc_info=task.exception())
