"""Who the live site's database says is present in a meeting, for the browser tests.

Attendance is written by the server (the meeting socket's close, or the end of a call peer's
reconnect grace); these helpers read it back through `manage.py shell` on the site's own
database, as the tests see nothing of the server's memory.
"""

from __future__ import annotations

import asyncio
import time

from tests.support.waiting import eventually
from tests.web.livesite import LiveSite

PRESENT = (
    "import json; from meetings.models import Participant; "
    "print(json.dumps(Participant.objects.filter(meeting_id='{meeting}', "
    "joined_at__isnull=False, left_at__isnull=True).count()))"
)


async def present(site: LiveSite, meeting_id: str) -> int:
    """How many participants are marked present (joined, not left) now."""
    return int(await asyncio.to_thread(site.seed, PRESENT.format(meeting=meeting_id)))


async def wait_present(site: LiveSite, meeting_id: str, count: int, *, within: float) -> float:
    """Wait until exactly `count` participants are present, at most `within` seconds; the
    seconds it took. Fails with the server's log, which says what each socket did."""
    started = time.monotonic()
    last: list[int] = []

    async def reached() -> bool:
        last[:] = [await present(site, meeting_id)]
        return last[0] == count

    try:
        await eventually(reached, timeout=within, every=0.1)
    except AssertionError:
        raise AssertionError(
            f"{last[0]} present, not {count}, {time.monotonic() - started:.1f} s on\n"
            f"--- server log ---\n{site.log()[-6000:]}"
        ) from None
    return time.monotonic() - started
