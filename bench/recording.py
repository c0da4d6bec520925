"""Recording costs: worker and FFmpeg CPU per recorded stream, calls one core records at once,
and the time to compose one minute of a four-person call.

Streams are real RTP: FFmpeg senders replay pre-encoded VP8 (640x360, 25 fps, about 600 kbit/s)
and Opus files in real time (``-re``, no re-encoding, so senders cost little and are not
counted) into PlainTransports of one worker's router. The same streams are measured twice over
``--seconds``: not recorded (worker only), then recorded by the project's recorder
(:class:`rtc.recording.track.TrackRecorder`: a PlainTransport and a consumer per stream into
FFmpeg). CPU comes from /proc (all threads). "Calls per core" divides one core by the CPU of
recording a call of two people (two audio and two video streams), worker and FFmpeg together.

The composition is :func:`rtc.recording.compose.compose` on four people's tracks made by FFmpeg
(60 s each, one joining late), rendered to 1280x720 WebM as the server does.

    .venv/bin/python -m bench.recording [--quick] [--streams 4,8] [--seconds 15] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import REPO, format_table, load_average, print_json, proc_sample

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mediasoup_ctl import create_worker, worker_bin_path  # noqa: E402

from rtc.recording.compose import compose  # noqa: E402
from rtc.recording.track import TrackRecorder  # noqa: E402
from rtc.services.config import DEFAULT_MEDIA_CODECS  # noqa: E402

LOOPBACK = {"protocol": "udp", "ip": "127.0.0.1"}
KINDS = {"video": (101, "video/VP8", 90000), "audio": (100, "audio/opus", 48000)}


class _Peer:
    def __init__(self, index: int) -> None:
        self.id, self.user_id, self.display_name = f"peer-{index}", index, f"Peer {index}"


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args], check=True)


def make_sources(directory: Path) -> dict[str, Path]:
    """A 10 s VP8 clip (key frame every 2 s) and a 10 s Opus clip to replay."""
    video, audio = directory / "source.webm", directory / "source.ogg"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=10", "-c:v", "libvpx",
            "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k", "-g", "50", str(video))
    _ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=10", "-ac", "2", "-c:a", "libopus",
            "-b:a", "64k", str(audio))
    return {"video": video, "audio": audio}


async def _stream(router: Any, kind: str, index: int, source: Path) -> tuple[Any, Any]:
    """A producer on a comedia PlainTransport, fed by an FFmpeg replaying ``source``."""
    payload_type, mime, clock = KINDS[kind]
    ingress = await router.create_plain_transport(listen_info=LOOPBACK, comedia=True,
                                                  rtcp_mux=False)
    ssrc = 20_000_000 + index
    codec: dict[str, Any] = {"mimeType": mime, "payloadType": payload_type, "clockRate": clock}
    if kind == "audio":
        codec["channels"] = 2
    producer = await ingress.produce(kind=kind, rtp_parameters={
        "codecs": [codec], "encodings": [{"ssrc": ssrc}]},
        app_data={"source": "webcam" if kind == "video" else "mic"})
    port, rtcp = ingress.tuple["localPort"], ingress.rtcp_tuple["localPort"]
    sender = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(source),
         "-map", "0:0", "-c", "copy", "-ssrc", str(ssrc), "-payload_type", str(payload_type),
         "-f", "rtp", f"rtp://127.0.0.1:{port}?rtcpport={rtcp}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return producer, sender


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += proc_sample(pid).cpu
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


async def measure_streams(count: int, seconds: float, sources: dict[str, Path],
                          directory: Path) -> dict[str, Any]:
    """CPU of the worker without and with recording ``count`` streams (half video)."""
    worker = await create_worker(log_level="error", rtc_min_port=45000, rtc_max_port=45999)
    router = await worker.create_router(media_codecs=DEFAULT_MEDIA_CODECS)
    streams = []
    errors = 0
    try:
        for index in range(count):
            kind = "video" if index % 2 else "audio"
            streams.append(await _stream(router, kind, index, sources[kind]))
        await asyncio.sleep(2.0)  # senders running
        before = _cpu([worker.pid])
        await asyncio.sleep(seconds)
        plain = (_cpu([worker.pid]) - before) / seconds
        t0 = time.monotonic()
        recorders = []
        for index, (producer, _) in enumerate(streams):
            track = TrackRecorder(router=router, producer=producer, peer=_Peer(index),
                                  directory=directory, name=f"{count}-{index:03d}",
                                  clock=lambda: time.monotonic() - t0,
                                  ffmpeg="/usr/bin/ffmpeg", on_end=lambda _track: None)
            await track.start()
            recorders.append(track)
        await asyncio.sleep(2.0)  # every recorder past its start-up
        tools = [t.tool.pid for t in recorders if t.tool and t.tool.pid]
        before_worker, before_tools = _cpu([worker.pid]), _cpu(tools)
        await asyncio.sleep(seconds)
        recorded_worker = (_cpu([worker.pid]) - before_worker) / seconds
        recorded_tools = (_cpu(tools) - before_tools) / seconds
        for track in recorders:
            segment = await track.stop()
            if not track.path.exists() or track.path.stat().st_size == 0:
                errors += 1
            if segment.end_reason != "stopped":
                errors += 1
    finally:
        for _, sender in streams:
            sender.kill()
            sender.wait()
        worker.close()
        await worker.wait_closed(10)
    return {"streams": count, "worker_plain": plain, "worker_recording": recorded_worker,
            "ffmpeg": recorded_tools, "errors": errors}


def make_call_tracks(directory: Path, seconds: int) -> dict[str, Any]:
    """Four people's camera and microphone tracks (the fourth joins a third of the way in),
    as the recorder writes them, and their manifest."""
    segments = []
    late = seconds / 3
    for person in range(4):
        start = 0.3 * person if person < 3 else late
        length = seconds - start
        video, audio = f"{person}-video.mkv", f"{person}-audio.mkv"
        _ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=640x360:r=25:d={length:.2f}", "-c:v",
                "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k",
                str(directory / video))
        _ffmpeg("-f", "lavfi", "-i", f"sine=f={300 + 100 * person}:d={length:.2f}", "-c:a",
                "libopus", str(directory / audio))
        for name, kind, source in ((video, "video", "webcam"), (audio, "audio", "mic")):
            segments.append({"file": name, "producer_id": name, "peer_id": f"peer-{person}",
                             "user_id": person, "display_name": f"P{person}", "kind": kind,
                             "source": source, "codec": "", "start": start, "end": seconds,
                             "pauses": [], "end_reason": "stopped"})
    return {"version": 1, "duration": float(seconds), "final": True, "segments": segments,
            "incidents": []}


async def measure_compose(seconds: int, directory: Path, fmt: str = "webm",
                          manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Seconds to compose ``seconds`` of a four-person call into 1280x720 ``fmt`` (WebM: VP8
    + Opus; MP4: H.264 + AAC)."""
    manifest = manifest or make_call_tracks(directory, seconds)
    out = directory / f"composed.{fmt}"
    started = time.monotonic()
    result = await compose(directory, manifest, out, ffmpeg="/usr/bin/ffmpeg",
                           ffprobe="/usr/bin/ffprobe", width=1280, height=720, fmt=fmt)
    took = time.monotonic() - started
    duration = float(result["probe"]["format"]["duration"])
    return {"format": fmt, "call_seconds": seconds, "compose_seconds": took,
            "output_seconds": duration, "realtime_factor": seconds / took,
            "bytes": out.stat().st_size, "errors": 0 if abs(duration - seconds) < 1 else 1}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; the results."""
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="conference-bench-rec-") as tmp:
        directory = Path(tmp)
        sources = make_sources(directory)
        rows = []
        for count in args.streams:
            rows.append(await measure_streams(count, args.seconds, sources, directory))
        compose_dir = directory / "compose"
        compose_dir.mkdir()
        manifest = make_call_tracks(compose_dir, args.compose_seconds)
        composed = [await measure_compose(args.compose_seconds, compose_dir, fmt, manifest)
                    for fmt in args.formats]
    return {"streams": rows, "compose": composed, "load_before": load_before,
            "load_after": load_average()}


def report(results: dict[str, Any]) -> None:
    """The two tables."""
    table = []
    per_stream = []
    for row in results["streams"]:
        n = row["streams"]
        extra = (row["worker_recording"] - row["worker_plain"]) / n
        tools = row["ffmpeg"] / n
        per_stream.append(extra + tools)
        table.append([n, f"{row['worker_plain'] * 100:.1f}", f"{row['worker_recording'] * 100:.1f}",
                      f"{extra * 100:.2f}", f"{row['ffmpeg'] * 100:.1f}", f"{tools * 100:.2f}",
                      f"{(extra + tools) * 100:.2f}", f"{1 / (4 * (extra + tools)):.0f}",
                      row["errors"]])
    print(format_table(["streams", "worker_%", "worker_rec_%", "worker+/stream_%",
                        "ffmpeg_%", "ffmpeg/stream_%", "total/stream_%", "calls/core",
                        "errors"], table))
    print()
    print(format_table(["format", "call_s", "compose_s", "output_s", "x_realtime", "MB",
                        "errors"],
                       [[c["format"], c["call_seconds"], f"{c['compose_seconds']:.1f}",
                         f"{c['output_seconds']:.1f}", f"{c['realtime_factor']:.2f}",
                         f"{c['bytes'] / 1e6:.1f}", c["errors"]] for c in results["compose"]]))
    errors = (sum(r["errors"] for r in results["streams"])
              + sum(c["errors"] for c in results["compose"]))
    print(f"\nload average before: {results['load_before']}  after: {results['load_after']}")
    print(f"errors: {errors}")


def main() -> None:
    """Parse the options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 streams, 3 s, a 10 s call")
    parser.add_argument("--streams", default="4,8", help="comma-separated stream counts")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--compose-seconds", type=int, default=60)
    parser.add_argument("--formats", default="webm,mp4", help="composed formats to time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.streams, args.seconds, args.compose_seconds = "2", 3.0, 10
        args.formats = "webm"
    args.streams = [int(v) for v in str(args.streams).split(",")]
    args.formats = [v for v in str(args.formats).split(",") if v]
    if not Path(worker_bin_path()).exists():
        raise SystemExit("mediasoup-worker not built: make worker")
    results = asyncio.run(run(args))
    if args.json:
        print_json(results)
    else:
        report(results)
    if (any(r["errors"] for r in results["streams"])
            or any(c["errors"] for c in results["compose"])):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
