"""`manage.py deliver_webhooks`: deliver due webhook events from this process.

For deployments where the serving processes do not deliver (``WEBHOOK_DISPATCHER`` off) or
to drain a backlog by hand. Safe beside other deliverers: each delivery is claimed first.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.delivery import drain_due


class Command(BaseCommand):
    """Attempt every due delivery once; with --loop, keep doing so."""

    help = "Deliver due webhook events (retries included); --loop keeps delivering."

    def add_arguments(self, parser: CommandParser) -> None:
        """--loop and --interval."""
        parser.add_argument("--loop", action="store_true",
                            help="Keep running, looking for due deliveries every --interval.")
        parser.add_argument("--interval", type=float, default=5.0,
                            help="Seconds between two looks with --loop (default 5).")

    def handle(self, *args: Any, **options: Any) -> None:
        """Drain once, or until interrupted."""
        while True:
            attempted = drain_due()
            if attempted or not options["loop"]:
                self.stdout.write(f"{attempted} delivery attempt(s)")
            if not options["loop"]:
                return
            time.sleep(max(0.1, options["interval"]))
