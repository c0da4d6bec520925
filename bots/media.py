"""Synthetic sources a bot sends, and the timestamp fixing its recordings need.

A bot has no microphone or camera: :class:`ToneAudioTrack` sends a 440 Hz tone (not silence,
so audio levels and the active speaker are measurable) and :class:`PatternVideoTrack` a moving
gradient (real content for the encoder, unlike a still frame). :class:`RebasedTrack` relays a
received track with timestamps that start at zero, which a file needs and RTP does not give.
"""

from __future__ import annotations

import fractions
import math
import struct

from aiortc import MediaStreamTrack
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

__all__ = ["PatternVideoTrack", "RebasedTrack", "ToneAudioTrack"]

RTP_TIMESTAMP_SPAN = 2**32


class PatternVideoTrack(VideoStreamTrack):
    """Small moving-gradient frames at 30 fps, so the encoder has real content to encode."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width, self.height, self.count = width, height, 0

    async def recv(self) -> VideoFrame:
        """The next frame, paced by aiortc's clock (``next_timestamp``)."""
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        shift = (self.count * 4) % 256
        self.count += 1
        for plane in frame.planes:
            row = bytes((x + shift) % 256 for x in range(plane.line_size))
            plane.update(row * (plane.buffer_size // plane.line_size))
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneAudioTrack(AudioStreamTrack):
    """A 440 Hz tone at about -12 dBFS, 20 ms frames of 48 kHz mono."""

    def __init__(self) -> None:
        super().__init__()
        self.sample = 0

    async def recv(self) -> AudioFrame:
        """The next 20 ms, paced by aiortc's silence track it replaces the samples of."""
        frame = await super().recv()
        samples = frame.samples
        values = [int(8000 * math.sin(2 * math.pi * 440 * (self.sample + i) / 48000))
                  for i in range(samples)]
        self.sample += samples
        frame.planes[0].update(struct.pack(f"<{samples}h", *values))
        frame.time_base = fractions.Fraction(1, 48000)
        return frame


class RebasedTrack(MediaStreamTrack):
    """A received track whose frames are timed from zero, for aiortc's MediaRecorder.

    Decoded frames carry their RTP timestamp as ``pts``: it starts anywhere in 32 bits and
    wraps, and the recorder's encoder refuses timestamps that do not increase. Here the first
    frame is 0, wraps are unwrapped, video is put on a ``video_rate`` grid (the recorder's
    stream rate) and a frame that would not move time forward is dropped (counted).
    """

    def __init__(self, source: MediaStreamTrack, *, video_rate: int = 30) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.frames = 0
        """Frames passed on."""
        self.dropped = 0
        """Frames dropped because their time did not advance."""
        self._rate = video_rate
        self._first = 0
        self._highest: int | None = None
        self._last = -1

    def _ticks(self, raw: int) -> int:
        """``raw`` (32-bit RTP time) as ticks since the first frame, across wraps."""
        if self._highest is None:
            self._first = self._highest = raw
            return 0
        delta = (raw - self._highest) % RTP_TIMESTAMP_SPAN
        if delta >= RTP_TIMESTAMP_SPAN // 2:
            delta -= RTP_TIMESTAMP_SPAN  # a late frame, from before the highest one
        extended = self._highest + delta
        self._highest = max(self._highest, extended)
        return extended - self._first

    async def recv(self) -> AudioFrame | VideoFrame:
        """The source's next frame that moves time forward, timed from zero."""
        while True:
            frame = await self.source.recv()
            ticks = self._ticks(int(frame.pts or 0))
            if isinstance(frame, VideoFrame):
                base = frame.time_base or fractions.Fraction(1, 90000)
                pts = round(ticks * base * self._rate)
                time_base = fractions.Fraction(1, self._rate)
            else:
                pts, time_base = ticks, frame.time_base
            if pts <= self._last:
                self.dropped += 1
                continue
            self._last = pts
            frame.pts, frame.time_base = pts, time_base
            self.frames += 1
            return frame

    def stop(self) -> None:
        """Stop relaying (the source is the consumer's, which closes it)."""
        super().stop()
