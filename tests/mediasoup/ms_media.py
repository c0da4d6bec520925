"""The router codecs and the decode wait of the media tests with the bots' aiortc peers (the
library's own tests keep a fuller copy in packages/mediasoup-ctl/tests/ms_media.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

MEDIA_CODECS: list[dict[str, Any]] = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000,
     "parameters": {"x-google-start-bitrate": 1000}},
    {"kind": "video", "mimeType": "video/H264", "clockRate": 90000,
     "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f",
                    "level-asymmetry-allowed": 1}},
]


async def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` every 0.1 s until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()
