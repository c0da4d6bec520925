"""The recording bot: every track of a meeting, each written to its own file.

A :class:`Recorder` is a :class:`bots.peer.Bot` that sends nothing: it opens only a receive
transport (a join token with ``hidden: true`` keeps it out of the others' peer lists, and a
hidden peer may not publish anyway), consumes every producer of the meeting (those listed when
it joins and each new one) and hands each received track to aiortc's ``MediaRecorder``:
audio to ``.ogg`` (Opus), video to ``.webm`` (VP8). The received frames are re-encoded, with
their RTP timestamps turned into a timeline that starts at zero (:class:`bots.media.RebasedTrack`).

A file is closed (its encoder flushed, its container finalized) when its producer goes
(``rtc:consumerClosed``), and all of them when the recording stops: on request (``stop``), when
the meeting ends (``meeting.ended``, then close code 4410) or when the socket closes. A track
that never delivered a frame leaves no file. ``recording.json`` in the output directory lists
the files with who sent them, when, and how many frames they hold; it is rewritten whenever a
file starts or ends, so it is complete after any clean stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiortc.contrib.media import MediaRecorder

from bots.device import Received
from bots.media import RebasedTrack
from bots.peer import Bot

__all__ = ["Recorder", "TrackFile"]

logger = logging.getLogger(__name__)

MANIFEST = "recording.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:32].lower()


@dataclass
class TrackFile:
    """One received track and the file it goes to."""

    file: str
    """Name in the output directory ('' when the track gave no frame and left no file)."""
    kind: str
    source: str
    """The sender's ``appData.source`` (mic, webcam, screen, screen-audio)."""
    peer_id: str
    display_name: str
    producer_id: str
    consumer_id: str
    started_at: str = field(default_factory=_now)
    ended_at: str = ""
    frames: int = 0
    """Frames written."""
    dropped: int = 0
    """Frames dropped because their time did not advance."""


class _Writing:
    """A file being written: the aiortc recorder and the re-timed track it reads."""

    def __init__(self, entry: TrackFile, path: Path, track: RebasedTrack) -> None:
        self.entry, self.path, self.track = entry, path, track
        self.recorder = MediaRecorder(str(path))
        self.recorder.addTrack(track)


class Recorder(Bot):
    """``await record(stop)`` writes the meeting's tracks into ``out_dir`` until it stops."""

    def __init__(self, url: str, out_dir: Path | str, *, origin: str | None = None,
                 name: str = "Recorder", audio_format: str = "ogg",
                 video_format: str = "webm") -> None:
        super().__init__(url, origin, name, send_media=False, count=False)
        self.out_dir = Path(out_dir)
        self.formats = {"audio": audio_format, "video": video_format}
        self.files: list[TrackFile] = []
        """Every track recorded or being recorded, in the order they started."""
        self.reason = ""
        """Why the recording stopped: ``stopped``, ``meeting_ended`` or ``socket_closed``."""
        self.report: Callable[[str], None] = lambda line: None
        """Told one line per step (joined, recording a file, closed a file): a CLI prints it."""
        self._writing: dict[str, _Writing] = {}
        self._started = _now()

    async def consumer_added(self, received: Received, consumed: dict[str, Any]) -> None:
        """Start a file for the new consumer's track."""
        kind = received.kind
        source = str((consumed.get("appData") or {}).get("source") or kind)
        display = self.names.get(received.peer_id, "")
        stem = _slug(display) or received.peer_id[:8]
        name = f"{len(self.files) + 1:02d}-{stem}-{_slug(source)}.{self.formats[kind]}"
        entry = TrackFile(file=name, kind=kind, source=source, peer_id=received.peer_id,
                          display_name=display, producer_id=received.producer_id,
                          consumer_id=str(consumed["id"]))
        writing = _Writing(entry, self.out_dir / name, RebasedTrack(received.consumer.track))
        self._writing[entry.consumer_id] = writing
        self.files.append(entry)
        await writing.recorder.start()
        logger.info("recorder %s: recording %s [peer:%s, producer:%s]", self.name, name,
                    received.peer_id, received.producer_id)
        self.write_manifest()
        self.report(f"recording {name}")

    async def consumer_removed(self, received: Received) -> None:
        """Close the file of a consumer that is gone."""
        writing = self._writing.pop(str(received.consumer.id), None)
        if writing is not None:
            await self._finish(writing)

    async def _finish(self, writing: _Writing) -> None:
        entry = writing.entry
        entry.ended_at = _now()
        entry.frames, entry.dropped = writing.track.frames, writing.track.dropped
        try:
            await writing.recorder.stop()
        except Exception as error:  # nothing was ever encoded: no stream to finalize
            logger.info("recorder %s: %s not finalized: %r", self.name, entry.file, error)
        if entry.frames == 0:
            writing.path.unlink(missing_ok=True)
            entry.file = ""
        logger.info("recorder %s: closed %s (%d frames)", self.name, entry.file or "-",
                    entry.frames)
        self.write_manifest()
        self.report(f"closed {entry.file or '-'} ({entry.frames} frames)")

    def write_manifest(self) -> None:
        """``recording.json``: the meeting, the recorder's peer, every file (atomically)."""
        meeting = self.signaling.state.get("meeting") or {}
        manifest = {
            "meeting": {"id": meeting.get("id"), "title": meeting.get("title")},
            "peerId": self.peer_id,
            "startedAt": self._started,
            "endedAt": _now() if self.reason else "",
            "reason": self.reason,
            "tracks": [asdict(entry) for entry in self.files],
        }
        path = self.out_dir / MANIFEST
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(manifest, indent=2) + "\n")
        temporary.replace(path)

    async def record(self, stop: asyncio.Event) -> str:
        """Connect, join, record until ``stop`` is set, the meeting ends or the socket
        closes; close every file; why it stopped.

        :class:`bots.signaling.Refused` when the server does not let the recorder in.
        """
        await self.connect()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            await self.join()
            self.report(f"joined as peer {self.peer_id}")
            self.reason = await self.stay(stop)
            if self.reason == "stopped":
                await self.leave_quietly()
        finally:
            self.reason = self.reason or "failed"
            await self.close()
            for writing in list(self._writing.values()):  # not reached through a consumer
                await self._finish(writing)
            self._writing.clear()
            self.write_manifest()
        logger.info("recorder %s: stopped (%s), %d files", self.name, self.reason,
                    sum(1 for f in self.files if f.file))
        return self.reason
