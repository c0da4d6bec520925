"""One producer recorded into one file: a PlainTransport, a paused consumer, FFmpeg.

The consumer starts paused; FFmpeg is started on the SDP of the consumer's codec, and only
once it has bound its port is the transport connected to it (comedia off, rtcp-mux) and the
consumer resumed, so the first packet FFmpeg sees is the track's first. For video a key frame
is requested at once and again shortly after (mediasoup forwards nothing until one arrives).

A :class:`Segment` is what the composer needs of the file: whose track, which source, when it
started and ended relative to the recording's start, and when it was paused. It ends when the
producer closes, its router goes (a worker died), the recording stops, or FFmpeg exits by
itself; ``on_end`` then tells the session, which may start a new segment (a gap in between).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rtc.recording.ports import free_udp_ports, wait_bound
from rtc.recording.sdp import consumer_sdp, recording_capabilities
from rtc.recording.tasks import detached_task
from rtc.recording.tool import MediaTool, ToolError, ToolExit

__all__ = ["KEY_FRAME_RETRIES", "Segment", "TrackRecorder", "record_argv"]

logger = logging.getLogger(__name__)

KEY_FRAME_RETRIES = (0.0, 0.5, 1.5, 3.0)
"""Seconds after the start at which a video key frame is requested."""
BIND_ATTEMPTS = 3
"""Port pairs tried when FFmpeg cannot bind the first one."""
LOOPBACK = "127.0.0.1"
RTCP_BYE = struct.pack("!BBHII", 0x82, 203, 2, 0x5EC0DE, 0x5EC0DE)
"""RTCP BYE (version 2, two sources: FFmpeg ignores packets shorter than 12 bytes): FFmpeg's
SDP demuxer ends its input when every stream said BYE, then writes the trailer and exits."""


@dataclass
class Segment:
    """One continuous piece of one producer's media, in one file."""

    file: str
    """The file's name in the recording's directory."""
    producer_id: str
    peer_id: str
    user_id: Any
    display_name: str
    kind: str
    """``audio`` or ``video``."""
    source: str
    """``mic``, ``webcam``, ``screen``, ``screen-audio`` (``appData.source``), or ''."""
    codec: str = ""
    start: float = 0.0
    """Seconds from the recording's start to the first packet sent to the file (for video a
    key frame: mediasoup forwards nothing before one): the file's time zero."""
    end: float | None = None
    """Seconds from the recording's start to its end (None while it runs)."""
    pauses: list[list[float | None]] = field(default_factory=list)
    """``[from, to]`` seconds while the producer was paused (``to`` None: until the end)."""
    end_reason: str = ""
    """``producer_closed``, ``router_closed``, ``stopped``, or the tool's failure reason."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the manifest)."""
        return asdict(self)


def record_argv(ffmpeg: str, sdp_path: Path, out_path: Path) -> list[str]:
    """FFmpeg receiving the SDP's RTP and writing it, not re-encoded, into Matroska."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning",
        "-protocol_whitelist", "file,udp,rtp",
        "-analyzeduration", "10000000", "-probesize", "20000000",
        "-f", "sdp", "-i", str(sdp_path),
        "-map", "0", "-c", "copy", "-f", "matroska", "-cluster_time_limit", "1000",
        "-flush_packets", "1", "-y", str(out_path),
    ]


class TrackRecorder:
    """Records one producer until :meth:`stop` or until its producer or router goes."""

    def __init__(self, *, router: Any, producer: Any, peer: Any, directory: Path, name: str,
                 clock: Callable[[], float], ffmpeg: str,
                 on_end: Callable[[TrackRecorder], Any]) -> None:
        self.router = router
        self.producer = producer
        self.directory = directory
        self.name = name
        self.clock = clock
        self.ffmpeg = ffmpeg
        self.on_end = on_end
        source = str((producer.app_data or {}).get("source", ""))
        self.segment = Segment(file=f"{name}.mkv", producer_id=producer.id, peer_id=peer.id,
                               user_id=peer.user_id, display_name=peer.display_name,
                               kind=producer.kind, source=source)
        self.transport: Any = None
        self.consumer: Any = None
        self.tool: MediaTool | None = None
        self.ended = False
        self._rtp_port = 0
        self._flowing = False
        """Whether the first packet went out (its time is the segment's start)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._end_lock = asyncio.Lock()
        self.started = asyncio.Event()
        """Set once :meth:`start` returned or failed."""

    @property
    def path(self) -> Path:
        """The track's file."""
        return self.directory / self.segment.file

    async def start(self) -> None:
        """Consume the producer and start writing; ToolError or a media error on failure
        (everything opened so far is closed again)."""
        try:
            await self._open()
        except BaseException:
            self.ended = True
            await self._close_media()
            raise
        finally:
            self.started.set()

    async def _open(self) -> None:
        self.transport = await self.router.create_plain_transport(
            listen_info={"protocol": "udp", "ip": LOOPBACK}, rtcp_mux=True, comedia=False,
            app_data={"recording": self.name})
        self.consumer = await self.transport.consume(
            producer_id=self.producer.id,
            rtp_capabilities=recording_capabilities(self.router.rtp_capabilities), paused=True,
            app_data={"recording": self.name})
        self.segment.codec = self.consumer.rtp_parameters["codecs"][0]["mimeType"]
        for attempt in range(BIND_ATTEMPTS):
            rtp_port, rtcp_port = free_udp_ports(2)
            sdp_path = self.directory / f"{self.name}.sdp"
            sdp_path.write_text(consumer_sdp(kind=self.producer.kind,
                                             rtp_parameters=self.consumer.rtp_parameters,
                                             rtp_port=rtp_port, rtcp_port=rtcp_port))
            tool = MediaTool(record_argv(self.ffmpeg, sdp_path, self.path), name=self.name,
                             log_path=self.directory / f"{self.name}.log")
            await tool.start()
            if await wait_bound(rtp_port, alive=lambda: tool.running):  # noqa: B023 (awaited here)
                break
            await tool.stop(timeout=1)
            logger.warning("ffmpeg did not bind its port [track:%s, port:%s, attempt:%s]",
                           self.name, rtp_port, attempt + 1)
        else:
            raise ToolError(f"ffmpeg did not start receiving for {self.name}",
                            reason="tool_failed")
        self.tool = tool
        self._rtp_port = rtp_port
        tool.on_exit = self._tool_exited
        self.consumer.on("producerclose", lambda: self._end_soon("producer_closed"))
        self.consumer.on("transportclose", lambda: self._end_soon("router_closed"))
        self.consumer.on("producerpause", self._paused)
        self.consumer.on("producerresume", self._resumed)
        self.consumer.on("trace", self._traced)
        await self.consumer.enable_trace_event(["rtp"])
        await self.transport.connect(ip=LOOPBACK, port=rtp_port)
        await self.consumer.resume()
        if not self._flowing:
            self.segment.start = self.clock()  # until the first packet says better
        if self.consumer.producer_paused:
            self._paused()
        if self.producer.kind == "video":
            self._spawn(self._request_key_frames())
        logger.info("track recording [track:%s, producer:%s, codec:%s, port:%s, pid:%s]",
                    self.name, self.producer.id, self.segment.codec, rtp_port, tool.pid)

    async def _request_key_frames(self) -> None:
        started = time.monotonic()
        for at in KEY_FRAME_RETRIES:
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            if self.ended or self.consumer is None or self.consumer.closed:
                return
            try:
                await self.consumer.request_key_frame()
            except Exception as error:  # closed meanwhile: the end handler runs
                logger.debug("key frame request failed [track:%s]: %s", self.name, error)
                return

    def _traced(self, trace: Any) -> None:
        """The first packet sent to FFmpeg is the file's time zero: note when it left, then
        stop tracing (one notification per packet otherwise)."""
        if self._flowing:
            return
        self._flowing = True
        self.segment.start = self.clock()
        self._spawn(self._untrace())

    async def _untrace(self) -> None:
        try:
            await self.consumer.enable_trace_event([])
        except Exception as error:  # closed meanwhile
            logger.debug("trace off failed [track:%s]: %s", self.name, error)

    def _paused(self) -> None:
        self.segment.pauses.append([self.clock(), None])

    def _resumed(self) -> None:
        if self.segment.pauses and self.segment.pauses[-1][1] is None:
            self.segment.pauses[-1][1] = self.clock()
        if self.producer.kind == "video":
            self._spawn(self._request_key_frames())

    def _tool_exited(self, exit: ToolExit) -> None:
        self._end_soon(exit.reason)

    def _end_soon(self, reason: str) -> None:
        if not self.ended:
            self._spawn(self.stop(reason))

    def _spawn(self, coro: Any) -> None:
        task = detached_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, reason: str = "stopped") -> Segment:
        """End the segment: FFmpeg finishes the file, the transport closes; the segment."""
        async with self._end_lock:
            if self.ended:
                return self.segment
            self.ended = True
            self.segment.end_reason = reason
            await self._close_media()
            self.segment.end = self.clock()  # the file holds what arrived until FFmpeg ended
            if self.segment.pauses and self.segment.pauses[-1][1] is None:
                self.segment.pauses[-1][1] = self.segment.end
            logger.info("track ended [track:%s, reason:%s, seconds:%.1f]", self.name, reason,
                        self.segment.end - self.segment.start)
        try:
            self.on_end(self)
        except Exception:
            logger.exception("track end callback failed [track:%s]", self.name)
        return self.segment

    def _nudge(self) -> None:
        """An RTCP BYE to FFmpeg's port. SIGINT alone ends FFmpeg only after its next input
        packet, which a paused track or a dead router never sends; the BYE ends the input
        whatever arrives, and FFmpeg finishes the file."""
        if self._rtp_port:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(RTCP_BYE, (LOOPBACK, self._rtp_port))

    async def _close_media(self) -> None:
        if self.tool is not None:
            await self.tool.stop(nudge=self._nudge)
        if self.transport is not None and not self.transport.closed:
            self.transport.close()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
