"""Background processing: a stopped recording's tracks composed into one stored file.

:func:`schedule` runs :func:`process` as a task on the serving loop (FFmpeg runs as a
subprocess, the loop is never blocked; one composition at a time per process). The composed
file is saved through the recordings storage, the recording becomes ``ready``, and only then
are the track files deleted; a failure marks it ``failed`` with the reason and keeps them.

At start-up (:func:`on_server_start`) this node finishes what a previous process left: a
recording still ``recording`` (the process died while recording: the manifest written every
few seconds says what was saved) becomes ``processing``, and every ``processing`` one is
composed, as is one ``failed`` because this node died while recording it (``node_lost``, see
:func:`nodes_lost`). Retention then runs every hour.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from channels.db import database_sync_to_async

from recordings import retention, selectors, services
from recordings.config import recording_settings
from recordings.models import Recording
from rtc import cluster
from rtc.recording.compose import compose, probe
from rtc.recording.manager import recorder
from rtc.recording.session import MANIFEST
from rtc.recording.tasks import detached_task
from rtc.recording.tool import ToolError, ffmpeg_binary

__all__ = ["nodes_lost", "on_server_start", "process", "recover", "recover_recording",
           "schedule", "wait_idle"]

logger = logging.getLogger(__name__)

RETENTION_INTERVAL = 3600.0
SEGMENT_KEYS = ("file", "producer_id", "peer_id", "display_name", "kind", "source", "start",
                "end", "pauses", "end_reason")
"""What the recording's details keep of each segment of its manifest."""
_tasks: set[asyncio.Task[Any]] = set()
_gate: dict[int, asyncio.Semaphore] = {}
_retention: set[asyncio.Task[Any]] = set()


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    return _gate.setdefault(id(loop), asyncio.Semaphore(1))


def schedule(recording_id: Any) -> asyncio.Task[Any]:
    """Compose the recording in a background task of the running loop."""
    task = detached_task(process(recording_id))
    _tasks.add(task)
    task.add_done_callback(_done)
    return task


def _done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("recording processing failed", exc_info=task.exception())


async def wait_idle() -> None:
    """Wait for every scheduled processing task (tests, benchmarks)."""
    while _tasks:
        await asyncio.gather(*list(_tasks), return_exceptions=True)


def _load_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


async def _close_open_segments(directory: Path, manifest: dict[str, Any],
                               ffprobe: str) -> dict[str, Any]:
    """A manifest written while recording: end running segments where their files end."""
    longest = float(manifest.get("duration") or 0)
    for segment in manifest["segments"]:
        if segment.get("end") is None:
            found = await probe(directory / segment["file"], ffprobe=ffprobe,
                                log_path=directory / "compose.log")
            seconds = float((found or {}).get("format", {}).get("duration") or 0)
            segment["end"] = segment["start"] + seconds
            segment["end_reason"] = segment.get("end_reason") or "interrupted"
        longest = max(longest, float(segment["end"]))
    manifest["duration"] = round(longest, 3)
    return manifest


async def process(recording_id: Any) -> Recording | None:
    """Compose a ``processing`` recording and store it (``ready``), or mark it ``failed``."""
    async with _semaphore():
        recording = await database_sync_to_async(
            Recording.objects.filter(pk=recording_id).first)()
        if recording is None or recording.status != Recording.Status.PROCESSING:
            return recording
        config = recording_settings()
        directory = Path(recording.work_dir)
        manifest = _load_manifest(directory)
        fail = database_sync_to_async(services.recording_mark_failed)
        if manifest is None or not manifest.get("segments"):
            return await fail(recording_id=recording_id, reason="no media was recorded")
        try:
            ffmpeg, ffprobe = ffmpeg_binary("ffmpeg"), ffmpeg_binary("ffprobe")
            if not manifest.get("final"):
                manifest = await _close_open_segments(directory, manifest, ffprobe)
            out = directory / f"composed.{config.format}"
            result = await compose(directory, manifest, out, ffmpeg=ffmpeg, ffprobe=ffprobe,
                                   width=config.width, height=config.height, fmt=config.format,
                                   timeout=config.compose_timeout)
        except ToolError as error:
            logger.warning("composition failed [recording:%s]: %s", recording_id, error)
            reason = ("no media was recorded" if error.reason == "no_media"
                      else f"composition failed: {error.reason.replace('_', ' ')}")
            return await fail(recording_id=recording_id, reason=reason)
        duration = float(result["probe"]["format"].get("duration") or manifest["duration"])
        details = {"layout": result["plan"], "incidents": manifest.get("incidents", []),
                   "segments": [{key: segment.get(key) for key in SEGMENT_KEYS}
                                for segment in manifest["segments"]]}
        try:
            ready = await database_sync_to_async(services.recording_mark_ready)(
                recording_id=recording_id, path=out, duration=duration, details=details)
        except OSError as error:
            logger.warning("cannot store the composed file [recording:%s]: %s", recording_id,
                           error)
            return await fail(recording_id=recording_id, reason="storage failed")
        shutil.rmtree(directory, ignore_errors=True)
        return ready


async def recover_recording(recording: Recording, *, reason: str) -> bool:
    """A ``recording`` row whose session is gone (its process died): ``processing`` with what
    the last manifest says, then composed in the background; False when another node or an
    earlier call took it over first."""
    manifest = _load_manifest(Path(recording.work_dir)) or {}
    taken = await database_sync_to_async(services.recording_take_over)(
        recording_id=recording.pk, duration=manifest.get("duration"), stop_reason=reason,
        details={"incidents": manifest.get("incidents", [])})
    if taken:
        schedule(recording.pk)
    return taken


def _recorded_elsewhere(recording: Recording) -> bool:
    """Whether another live node of the cluster records it now (nodes sharing one disk)."""
    node = cluster.local_node()
    recorder_id = (recording.details or {}).get("recorder")
    return (node is not None and bool(recorder_id) and recorder_id != node.id
            and recorder_id in node.records)


async def recover() -> int:
    """Finish this node's recordings a previous process left unfinished; how many."""
    node = recording_settings().node
    rows = await database_sync_to_async(lambda: list(selectors.unfinished_on_node(node=node)))()
    count = 0
    for recording in rows:
        if recorder.active(recording.meeting_id) is not None or _recorded_elsewhere(recording):
            continue  # recording in this process, or in a live sibling, right now
        if recording.status == Recording.Status.RECORDING:
            if not await recover_recording(recording, reason="server_restarted"):
                continue
        elif recording.status == Recording.Status.FAILED:  # node_lost: its tracks are here
            if _load_manifest(Path(recording.work_dir)) is None or not await \
                    database_sync_to_async(services.recording_reopen)(recording_id=recording.pk):
                continue
            schedule(recording.pk)
        else:
            schedule(recording.pk)
        count += 1
    if count:
        logger.info("recovering %s unfinished recordings [node:%s]", count, node)
    return count


async def nodes_lost(node_ids: list[str]) -> int:
    """Cluster nodes died while recording (`rtc.cluster.on_nodes_gone`, on the one node that
    noticed): their recordings leave ``recording``. One whose tracks are on this node's disk
    is composed here (``node_lost``); any other is ``failed`` (``node_lost``) until its node
    starts again and composes it (:func:`recover`). How many were handled."""
    rows = await database_sync_to_async(
        lambda: list(selectors.running_by_recorders(node_ids=node_ids)))()
    here = recording_settings().node
    count = 0
    for recording in rows:
        if recording.node == here:
            count += await recover_recording(recording, reason="node_lost")
        else:
            count += await database_sync_to_async(services.recording_mark_lost)(
                recording_id=recording.pk, node_id=recording.details.get("recorder", ""))
    if count:
        logger.warning("recordings of lost nodes handled [nodes:%s, recordings:%s]",
                       ",".join(node_ids), count)
    return count


async def _retention_loop() -> None:
    while True:
        try:
            await database_sync_to_async(retention.delete_expired)()
        except Exception:
            logger.exception("recording retention failed")
        await asyncio.sleep(RETENTION_INTERVAL)


async def on_server_start() -> None:
    """Start-up hook: recover unfinished recordings, then retention every hour."""
    try:
        await recover()
    except Exception as error:  # no database yet (e.g. before migrate): next start retries
        logger.warning("recording recovery skipped: %s", error)
        return
    if not _retention:
        task = detached_task(_retention_loop())
        _retention.add(task)
        task.add_done_callback(_retention.discard)
