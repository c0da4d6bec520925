"""Retention: finished recordings older than ``RECORDING_RETENTION_DAYS`` are deleted."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from recordings import services
from recordings.config import recording_settings
from recordings.models import Recording

__all__ = ["delete_expired"]

logger = logging.getLogger(__name__)


def delete_expired(*, now: datetime | None = None, days: int | None = None) -> int:
    """Delete ``ready`` and ``failed`` recordings that started more than ``days`` ago (the
    setting by default; 0 keeps everything); how many were deleted."""
    days = recording_settings().retention_days if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    expired = Recording.objects.filter(
        started_at__lt=cutoff, status__in=[Recording.Status.READY, Recording.Status.FAILED])
    count = 0
    for recording in expired:
        services.recording_delete(recording=recording)
        count += 1
    if count:
        logger.info("retention deleted %s recordings older than %s days", count, days)
    return count
