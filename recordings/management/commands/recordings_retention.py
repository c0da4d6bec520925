"""``manage.py recordings_retention``: delete finished recordings past the retention period
(the server also does it every hour; run this from cron where it does not run)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recordings.retention import delete_expired


class Command(BaseCommand):
    """Delete expired recordings."""

    help = "Delete ready and failed recordings older than RECORDING_RETENTION_DAYS."

    def add_arguments(self, parser: CommandParser) -> None:
        """``--days N`` overrides the setting."""
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        """Delete and report how many."""
        count = delete_expired(days=options["days"])
        self.stdout.write(f"deleted {count} recordings")
