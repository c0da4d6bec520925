"""The bots' pure parts: re-timing received frames, the socket URL, the synthetic sources, and
that the package runs without Django."""

from __future__ import annotations

import fractions
import json
import os
import struct
import subprocess
import sys

import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from bots.cli import is_loopback, socket_url
from bots.live_daphne import ROOT
from bots.media import PatternVideoTrack, RebasedTrack, ToneAudioTrack

WRAP = 2**32


class _Frames(MediaStreamTrack):
    """A track that returns prepared frames, then ends."""

    def __init__(self, kind: str, frames: list) -> None:
        super().__init__()
        self.kind = kind
        self._frames = list(frames)

    async def recv(self):
        if not self._frames:
            raise MediaStreamError
        return self._frames.pop(0)


def _video(pts: int) -> VideoFrame:
    frame = VideoFrame(width=16, height=16, format="yuv420p")
    frame.pts, frame.time_base = pts, fractions.Fraction(1, 90000)
    return frame


def _audio(pts: int, samples: int = 960) -> AudioFrame:
    frame = AudioFrame(format="s16", layout="stereo", samples=samples)
    frame.sample_rate = 48000
    frame.pts, frame.time_base = pts, fractions.Fraction(1, 48000)
    return frame


async def _drain(track: RebasedTrack) -> list[int]:
    out = []
    while True:
        try:
            out.append((await track.recv()).pts)
        except MediaStreamError:
            return out


async def test_video_is_timed_from_zero_on_the_recorders_grid_across_an_rtp_wrap():
    """RTP timestamps near 2**32 that wrap become 0, 1, 2... at 30 fps; a frame that comes
    late (from before the wrap) or lands on a used slot is dropped and counted."""
    start = WRAP - 2 * 3000
    raw = [start, start + 3000, (start + 6000) % WRAP, start + 4000, (start + 9000) % WRAP,
           (start + 9500) % WRAP, (start + 12000) % WRAP]
    track = RebasedTrack(_Frames("video", [_video(p) for p in raw]))
    assert await _drain(track) == [0, 1, 2, 3, 4]
    assert (track.frames, track.dropped) == (5, 2)


async def test_audio_is_timed_from_zero_and_never_overlaps():
    """Audio keeps its sample clock from zero; gaps stay; a frame stamped inside the previous
    one (a sender whose clock lags) is moved to that frame's end."""
    first = 123_456
    raw = [first, first + 960, first + 960 + 160, first + 9600]
    track = RebasedTrack(_Frames("audio", [_audio(p) for p in raw]))
    assert await _drain(track) == [0, 960, 1920, 9600]
    assert track.dropped == 0


async def test_the_tone_and_the_pattern_are_real_time_media():
    """The tone is 20 ms of 48 kHz audio per frame with pts in samples and a 440 Hz signal;
    the pattern's frames change from one to the next."""
    tone = ToneAudioTrack()
    frames = [await tone.recv() for _ in range(3)]
    assert [f.pts for f in frames] == [0, 960, 1920]
    assert {(f.sample_rate, f.samples, f.time_base) for f in frames} == {
        (48000, 960, fractions.Fraction(1, 48000))}
    raw = bytes(frames[0].planes[0])[:2 * 960]
    samples = struct.unpack("<960h", raw)
    crossings = sum(1 for a, b in zip(samples, samples[1:], strict=False) if a < 0 <= b)
    assert crossings in (8, 9), crossings  # 440 Hz over 20 ms: 8.8 periods
    assert 7000 < max(samples) <= 8000
    pattern = PatternVideoTrack()
    a, b = await pattern.recv(), await pattern.recv()
    assert (a.width, a.height) == (320, 240)
    assert bytes(a.planes[0]) != bytes(b.planes[0])
    tone.stop()
    pattern.stop()
    with pytest.raises(MediaStreamError):
        await tone.recv()


def _jwt(claims: dict) -> str:
    import base64

    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.c2lnbmF0dXJl"


def test_socket_url_takes_the_meeting_from_the_url_or_the_join_token():
    """The server's address plus a join token gives the token's meeting socket with
    ``access_token``; an explicit socket path and an API token stay as given; http becomes ws;
    without a meeting anywhere it is an error."""
    token = _jwt({"meeting": "m-1"})
    assert socket_url("ws://127.0.0.1:8000", token) == (
        f"ws://127.0.0.1:8000/ws/meetings/m-1/?access_token={token}")
    assert socket_url("https://example.org/", "abc", "m-2") == (
        "wss://example.org/ws/meetings/m-2/?token=abc")
    assert socket_url("ws://h/ws/meetings/m-3/?token=x", token) == "ws://h/ws/meetings/m-3/?token=x"
    with pytest.raises(ValueError, match="names no meeting"):
        socket_url("ws://127.0.0.1:8000", "not-a-jwt")
    with pytest.raises(ValueError, match="not a ws"):
        socket_url("ftp://127.0.0.1/", token)
    assert is_loopback("ws://127.0.0.1:1/") and is_loopback("ws://localhost/")
    assert is_loopback("ws://[::1]:8000/") and not is_loopback("wss://example.org/")


def test_the_bots_import_nothing_from_django():
    """Every bots module (and the loopback restriction they apply) loads in a fresh interpreter
    without Django settings, and Django is not among the modules imported (the bots run away
    from the server)."""
    modules = ["bots.cli", "bots.device", "bots.join", "bots.live_daphne", "bots.media",
               "bots.peer", "bots.record", "bots.recorder", "bots.signaling",
               "bots.loopback"]
    code = ("import importlib, json, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('django', 'channels', 'rest_framework', 'conference', 'meetings'))))")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(result.stdout) == []
