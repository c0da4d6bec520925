"""Compose a recording's track files into one file people can watch: FFmpeg after the call.

The layout is fixed for the whole recording, decided from the manifest: a grid of the camera
tiles (one per peer that sent video other than a screen, in order of first appearance), or,
when someone shared a screen, the screen large on the left and the cameras in a column on the
right. Each segment is placed at its true time with ``-itsoffset`` (its start in the manifest);
a video tile shows the background before a segment starts, after it ends (``eof_action=pass``)
and while its producer was paused (``enable``). Every audio segment is padded with silence to
its start (``aresample=async=1:first_pts=0``, which also fills gaps) and all are mixed
(``amix``, not normalised, so one speaker keeps their level).

Output: WebM (VP8 + Opus; Matroska cues written at the end, so it seeks) or MP4 (H.264 + AAC,
``+faststart``). Track files FFmpeg cannot read (a tool killed before it wrote a header) are
left out and listed in the result.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtc.recording.tool import ToolError, run_tool

__all__ = ["FORMATS", "Plan", "Tile", "compose", "compose_argv", "plan_layout", "probe"]

logger = logging.getLogger(__name__)

FORMATS = {
    "webm": ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1500k",
             "-g", "50", "-c:a", "libopus", "-b:a", "96k", "-f", "webm"],
    "mp4": ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "50",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-f", "mp4"],
}
BACKGROUND = "0x1f2024"
FPS = 25
MAX_COLUMN_TILES = 4


@dataclass(frozen=True, slots=True)
class Tile:
    """A rectangle of the output frame."""

    x: int
    y: int
    w: int
    h: int

    def as_dict(self) -> dict[str, int]:
        """JSON form."""
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}


@dataclass
class Plan:
    """What goes where: the composer's input, also stored with the recording."""

    width: int
    height: int
    duration: float
    video: list[tuple[dict[str, Any], Tile]] = field(default_factory=list)
    audio: list[dict[str, Any]] = field(default_factory=list)
    tiles: dict[str, Tile] = field(default_factory=dict)
    """``screen`` or a peer id → its tile."""
    skipped: list[str] = field(default_factory=list)
    """Track files left out (unreadable or missing)."""

    def summary(self) -> dict[str, Any]:
        """JSON form (without the segments)."""
        return {"width": self.width, "height": self.height, "duration": self.duration,
                "tiles": {key: tile.as_dict() for key, tile in self.tiles.items()},
                "videoSegments": len(self.video), "audioSegments": len(self.audio),
                "skipped": list(self.skipped)}


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _grid(count: int, width: int, height: int, x0: int = 0) -> list[Tile]:
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    w, h = _even(width / columns), _even(height / rows)
    return [Tile(x0 + (i % columns) * w, (i // columns) * h, w, h) for i in range(count)]


def plan_layout(manifest: dict[str, Any], usable: set[str], *, width: int,
                height: int) -> Plan:
    """The layout of a manifest's segments whose files are in ``usable``."""
    plan = Plan(width=width, height=height, duration=float(manifest["duration"]))
    segments = sorted(manifest["segments"], key=lambda s: (s["start"], s["file"]))
    plan.skipped = [s["file"] for s in segments if s["file"] not in usable]
    segments = [s for s in segments if s["file"] in usable and s["start"] < plan.duration]
    plan.audio = [s for s in segments if s["kind"] == "audio"]
    videos = [s for s in segments if s["kind"] == "video"]
    screens = [s for s in videos if s["source"] == "screen"]
    cameras: list[str] = []
    for segment in videos:
        if segment["source"] != "screen" and segment["peer_id"] not in cameras:
            cameras.append(segment["peer_id"])
    if screens:
        screen_w = _even(width * 3 / 4)
        plan.tiles["screen"] = Tile(0, 0, screen_w, height)
        rows = max(len(cameras), MAX_COLUMN_TILES)
        h = _even(height / rows)
        for i, peer in enumerate(cameras):
            plan.tiles[peer] = Tile(screen_w, i * h, _even(width - screen_w), h)
    elif cameras:
        for peer, tile in zip(cameras, _grid(len(cameras), width, height), strict=True):
            plan.tiles[peer] = tile
    for segment in videos:
        key = "screen" if segment["source"] == "screen" else segment["peer_id"]
        plan.video.append((segment, plan.tiles[key]))
    return plan


def _paused_expression(segment: dict[str, Any], duration: float) -> str | None:
    spans = [f"between(t,{start:.3f},{(end if end is not None else duration):.3f})"
             for start, end in segment.get("pauses", [])]
    return f"not({'+'.join(spans)})" if spans else None


def compose_argv(plan: Plan, directory: Path, out_path: Path, *, ffmpeg: str,
                 fmt: str = "webm") -> list[str]:
    """The FFmpeg command that renders ``plan`` into ``out_path``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    duration = f"{plan.duration:.3f}"
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    inputs: list[dict[str, Any]] = [s for s, _ in plan.video] + plan.audio
    for segment in inputs:
        argv += ["-itsoffset", f"{segment['start']:.3f}", "-i", str(directory / segment["file"])]
    graph = [f"color=c={BACKGROUND}:s={plan.width}x{plan.height}:r={FPS}:d={duration}[bg0]"]
    for k, (segment, tile) in enumerate(plan.video):
        graph.append(f"[{k}:v]scale={tile.w}:{tile.h}:force_original_aspect_ratio=decrease,"
                     f"pad={tile.w}:{tile.h}:(ow-iw)/2:(oh-ih)/2:color={BACKGROUND},"
                     f"setsar=1[v{k}]")
        enable = _paused_expression(segment, plan.duration)
        options = f"x={tile.x}:y={tile.y}:eof_action=pass"
        if enable:
            options += f":enable='{enable}'"
        graph.append(f"[bg{k}][v{k}]overlay={options}[bg{k + 1}]")
    graph.append(f"[bg{len(plan.video)}]format=yuv420p[vout]")
    first_audio = len(plan.video)
    labels = []
    for k in range(len(plan.audio)):
        graph.append(f"[{first_audio + k}:a]aresample=48000:async=1:first_pts=0,"
                     f"aformat=channel_layouts=stereo[a{k}]")
        labels.append(f"[a{k}]")
    if not labels:
        graph.append(f"anullsrc=r=48000:cl=stereo:n=960:d={duration}[aout]")
    elif len(labels) == 1:
        graph.append(f"{labels[0]}apad=whole_dur={duration}[aout]")
    else:
        graph.append(f"{''.join(labels)}amix=inputs={len(labels)}:duration=longest:"
                     f"normalize=0,apad=whole_dur={duration}[aout]")
    argv += ["-filter_complex", ";".join(graph), "-map", "[vout]", "-map", "[aout]",
             "-r", str(FPS), "-t", duration, *FORMATS[fmt], str(out_path)]
    return argv


async def probe(path: Path, *, ffprobe: str, log_path: Path) -> dict[str, Any] | None:
    """FFprobe's format and streams of a file, or None when it cannot read it."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    out = path.with_name(path.name + ".probe.json")
    argv = [ffprobe, "-v", "error", "-show_entries",
            "format=duration,size:stream=codec_type,codec_name,width,height",
            "-of", "json", "-o", str(out), str(path)]
    try:
        await run_tool(argv, name=f"probe {path.name}", log_path=log_path, timeout=60)
        data = json.loads(out.read_text())
    except (ToolError, ValueError, OSError) as error:
        logger.warning("cannot probe [file:%s]: %s", path, error)
        return None
    finally:
        out.unlink(missing_ok=True)
    return data if data.get("streams") else None


async def compose(directory: Path, manifest: dict[str, Any], out_path: Path, *, ffmpeg: str,
                  ffprobe: str, width: int = 1280, height: int = 720, fmt: str = "webm",
                  timeout: float | None = None) -> dict[str, Any]:
    """Render the recording in ``directory`` into ``out_path``; the plan's summary and the
    output's probe. ToolError when FFmpeg fails or nothing playable comes out."""
    log_path = directory / "compose.log"
    usable = set()
    for segment in manifest["segments"]:
        if await probe(directory / segment["file"], ffprobe=ffprobe, log_path=log_path):
            usable.add(segment["file"])
    plan = plan_layout(manifest, usable, width=width, height=height)
    if plan.duration <= 0 or not (plan.video or plan.audio):
        raise ToolError("no track file could be read", reason="no_media")
    argv = compose_argv(plan, directory, out_path, ffmpeg=ffmpeg, fmt=fmt)
    logger.info("composing [dir:%s, video:%s, audio:%s, skipped:%s, seconds:%.1f]", directory,
                len(plan.video), len(plan.audio), len(plan.skipped), plan.duration)
    await run_tool(argv, name=f"compose {directory.name}", log_path=log_path, timeout=timeout)
    result = await probe(out_path, ffprobe=ffprobe, log_path=log_path)
    if result is None:
        raise ToolError("the composed file cannot be read", reason="compose_failed")
    return {"plan": plan.summary(), "probe": result}
