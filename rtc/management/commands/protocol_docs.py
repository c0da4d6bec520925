"""``python manage.py protocol_docs [--check]``: regenerate the meeting socket's documents.

Writes what `rtc.signaling.documents.GENERATED` lists (JSON Schema, AsyncAPI, the tables of
``PROTOCOL.md``, the clients' code tables) from the route table; with ``--check`` writes
nothing and fails when one of them is stale (``.ci/run`` runs it), so a change to the
protocol cannot land without its documents.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rtc.signaling import documents


class Command(BaseCommand):
    """Regenerate (or check) the generated protocol documents."""

    help = "Regenerate the meeting socket's generated documents (--check: fail when stale)."

    def add_arguments(self, parser: CommandParser) -> None:
        """``--check``: compare only."""
        parser.add_argument("--check", action="store_true",
                            help="write nothing; exit 1 when a generated file is stale")

    def handle(self, *args: Any, **options: Any) -> None:
        """Write or check every generated file."""
        if options["check"]:
            stale = documents.stale()
            if stale:
                raise CommandError("stale generated protocol files (run `python manage.py "
                                   f"protocol_docs`): {', '.join(stale)}")
            self.stdout.write("protocol documents are up to date")
            return
        for path, text in documents.render_all().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                self.stdout.write(f"wrote {path.relative_to(documents.ROOT)}")
