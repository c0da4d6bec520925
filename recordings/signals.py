"""Signals of the recordings app, sent inside the transaction of the change (integrations turn
them into webhooks). Keyword argument: ``recording`` (a :class:`recordings.models.Recording`)."""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["recording_failed", "recording_ready", "recording_started"]

recording_started = Signal()
"""A recording started."""
recording_ready = Signal()
"""A recording's composed file is stored and can be watched."""
recording_failed = Signal()
"""A recording failed (its ``failure_reason`` says why; partial media is kept)."""
