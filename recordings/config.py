"""The recording settings (``settings.RECORDING``) over defaults, read on every use so tests can
change them."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

__all__ = ["RecordingSettings", "recording_settings"]


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    """See README, Configuration (``RECORDING_*``)."""

    work_dir: Path
    """Where track files are written while recording (this node's disk)."""
    max_duration: int
    """Seconds after which a recording stops by itself."""
    retention_days: int
    """Finished recordings older than this are deleted (0: kept forever)."""
    format: str
    """``webm`` (VP8 + Opus) or ``mp4`` (H.264 + AAC)."""
    width: int
    height: int
    min_free_mb: int
    """A recording is refused (and a running one stopped) below this much free space."""
    compose_timeout: int
    node: str
    """This node's name: recordings are finished by the node whose disk holds their tracks."""


def recording_settings() -> RecordingSettings:
    """The current settings."""
    raw = getattr(settings, "RECORDING", None) or {}
    return RecordingSettings(
        work_dir=Path(raw.get("WORK_DIR") or Path(settings.BASE_DIR) / "recordings-work"),
        max_duration=int(raw.get("MAX_DURATION_SECONDS", 4 * 3600)),
        retention_days=int(raw.get("RETENTION_DAYS", 30)),
        format=str(raw.get("FORMAT", "webm")),
        width=int(raw.get("WIDTH", 1280)),
        height=int(raw.get("HEIGHT", 720)),
        min_free_mb=int(raw.get("MIN_FREE_MB", 200)),
        compose_timeout=int(raw.get("COMPOSE_TIMEOUT_SECONDS", 3600)),
        node=str(raw.get("NODE") or socket.gethostname()),
    )
