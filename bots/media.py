"""Synthetic sources a bot sends, and the timestamp fixing its recordings need.

A bot has no microphone or camera: :class:`ToneAudioTrack` sends a 440 Hz tone (not silence,
so audio levels and the active speaker are measurable) and :class:`PatternVideoTrack` a moving
gradient (real content for the encoder, unlike a still frame). :class:`RebasedTrack` relays a
received track with timestamps that start at zero, which a file needs and RTP does not give.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time

from aiortc import MediaStreamTrack
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamError, VideoStreamTrack
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


class ToneAudioTrack(MediaStreamTrack):
    """A 440 Hz tone at about -12 dBFS: 20 ms frames of 48 kHz mono, paced in real time.

    Its own clock, not aiortc's silence track's: that one runs at 8 kHz, and a frame's
    ``pts`` and ``time_base`` must agree with its sample rate, or the RTP timestamps sent drift
    from real time (a receiver's recording then has the wrong duration).
    """

    kind = "audio"
    sample_rate = 48000
    frequency = 440

    def __init__(self) -> None:
        super().__init__()
        self.sample = 0
        """Samples sent so far (the next frame's ``pts``)."""
        self._start: float | None = None
        # One second holds exactly 440 periods: frames are cut from it cyclically.
        self._second = struct.pack(
            f"<{self.sample_rate}h",
            *(int(8000 * math.sin(2 * math.pi * self.frequency * i / self.sample_rate))
              for i in range(self.sample_rate)))

    async def recv(self) -> AudioFrame:
        """The next 20 ms, when it is due."""
        if self.readyState != "live":
            raise MediaStreamError
        samples = int(AUDIO_PTIME * self.sample_rate)
        if self._start is None:
            self._start = time.time()
        else:
            await asyncio.sleep(self._start + self.sample / self.sample_rate - time.time())
        offset = 2 * (self.sample % self.sample_rate)
        chunk = (self._second[offset:] + self._second)[:2 * samples]
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(chunk)
        frame.pts, frame.sample_rate = self.sample, self.sample_rate
        frame.time_base = fractions.Fraction(1, self.sample_rate)
        self.sample += samples
        return frame


class RebasedTrack(MediaStreamTrack):
    """A received track whose frames are timed from zero, for aiortc's MediaRecorder.

    Decoded frames carry their RTP timestamp as ``pts``: it starts anywhere in 32 bits and
    wraps, and the recorder's encoder refuses timestamps that do not increase. Here the first
    frame is 0, wraps are unwrapped, video is put on a ``video_rate`` grid (the recorder's
    stream rate) and a video frame that would not move time forward is dropped (counted); an
    audio frame that would overlap the previous one is moved to its end (gaps stay gaps).
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
        self._next = 0

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
            else:  # audio: never overlap the previous frame (a sender's clock may lag)
                time_base = frame.time_base or fractions.Fraction(1, frame.sample_rate)
                pts = max(ticks, self._next)
                self._next = pts + round(frame.samples / frame.sample_rate / time_base)
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
