"""Attendance of this process's meeting connections: who is present, written once per presence.

A participant is present in a meeting while at least one *holder* keeps it so: an open meeting
socket (held under its channel name) or a call peer waiting in the reconnect grace period (held
under ``peer:<peer id>``). The first holder writes the join (`participant_mark_joined`), only
the last one to go writes the leave (`participant_mark_left`). So a socket that drops and
resumes within the grace period leaves the attendance row untouched (no left-then-joined), a
second device does not end the first one's presence, and a peer whose grace expires is marked
left then, not when its socket dropped.

The table is in memory and covers one process. In a cluster a node mirrors it in Redis through
:attr:`Attendance.listener` (`rtc.cluster.presence`), and :func:`mark_left` writes a leave only
when no other live node still holds the user. Callers run on the event loop; nothing here
awaits between reading and changing the table.

The writes run on several database threads (`conference.db_threads`), so two writes of one
user in one meeting could otherwise commit in the other order than they were decided (a leave
decided before a join, committed after it: the user shown gone while present). Every join and
leave write of a (meeting, user) pair runs inside `Attendance.writing`, which lets them
through one at a time, in the order they asked.

A leave that cannot be written because the database is unavailable is not lost: it waits in
:data:`late_leaves` with the time it happened and is written as soon as the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from conference.db_threads import db_call
from conference.outage import is_database_outage
from meetings import services

__all__ = ["Attendance", "LateLeaves", "attendance", "late_leaves", "mark_left", "peer_key",
           "write_left"]

logger = logging.getLogger(__name__)


def peer_key(peer_id: str) -> str:
    """The holder key of a call peer in its grace period."""
    return f"peer:{peer_id}"


class Attendance:
    """Holders per (meeting, user)."""

    def __init__(self) -> None:
        self._holders: dict[tuple[str, str], set[str]] = {}
        self._writers: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self.listener: Callable[[str, str, bool], None] | None = None
        """Called with (meeting id, user id, present) when a user's first holder comes or
        its last goes (the cluster's presence mirror)."""

    @contextlib.asynccontextmanager
    async def writing(self, meeting_id: Any, user_id: Any) -> AsyncIterator[None]:
        """Hold the (meeting, user) pair's write turn: its join and leave writes commit in
        the order they entered (asyncio locks are fair)."""
        key = self._key(meeting_id, user_id)
        lock, users = self._writers.get(key) or (asyncio.Lock(), 0)
        self._writers[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._writers[key]
            if users > 1:
                self._writers[key] = (lock, users - 1)
            else:
                del self._writers[key]

    def _tell(self, key: tuple[str, str], present: bool) -> None:
        if self.listener is not None:
            try:
                self.listener(key[0], key[1], present)
            except Exception:
                logger.exception("attendance listener failed")

    @staticmethod
    def _key(meeting_id: Any, user_id: Any) -> tuple[str, str]:
        return str(meeting_id), str(user_id)

    def hold(self, meeting_id: Any, user_id: Any, holder: str) -> bool:
        """Add a holder; True when it is the first (the join is to be written)."""
        holders = self._holders.setdefault(self._key(meeting_id, user_id), set())
        first = not holders
        holders.add(holder)
        if first:
            self._tell(self._key(meeting_id, user_id), True)
        return first

    def release(self, meeting_id: Any, user_id: Any, holder: str) -> bool:
        """Remove a holder; True when it was held and was the last (the leave is to be
        written). Releasing a holder that is not held changes nothing and returns False."""
        key = self._key(meeting_id, user_id)
        holders = self._holders.get(key)
        if holders is None or holder not in holders:
            return False
        holders.discard(holder)
        if holders:
            return False
        del self._holders[key]
        self._tell(key, False)
        return True

    def present(self, meeting_id: Any, user_id: Any) -> bool:
        """Whether any holder keeps the user present in the meeting."""
        return bool(self._holders.get(self._key(meeting_id, user_id)))

    def holders(self, meeting_id: Any, user_id: Any) -> frozenset[str]:
        """The current holders (tests, diagnostics)."""
        return frozenset(self._holders.get(self._key(meeting_id, user_id), ()))

    def present_keys(self) -> list[tuple[str, str]]:
        """Every (meeting id, user id) held now."""
        return list(self._holders)

    def __len__(self) -> int:
        return len(self._holders)


attendance = Attendance()
"""The process's attendance table."""


@db_call
def _write_left(meeting_id: Any, user_id: Any, at: datetime | None = None) -> None:
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        services.participant_mark_left(meeting_id=meeting_id, user=user, at=at)


class LateLeaves:
    """Leaves that could not be written because the database was unavailable, kept with the
    time they happened and written (with that time) as soon as it answers again, so an outage
    delays attendance but loses none of it. Retried with backoff from ``RETRY_DELAYS`` (the
    last one repeats). Kept in this process's memory: a process that stops during an outage
    tries once more on its way out (``flush``) and otherwise loses what is still pending."""

    RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        """Late leaves written so far (monitoring, tests)."""

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, meeting_id: Any, user_id: Any, at: datetime) -> None:
        """Keep a leave to write later (the latest one per user and meeting wins)."""
        self._pending[(str(meeting_id), str(user_id))] = at
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._retry())

    async def flush(self) -> int:
        """Try every pending leave once now; how many are still pending."""
        for key, at in list(self._pending.items()):
            try:
                await _write_left(key[0], key[1], at)
            except Exception as error:
                if is_database_outage(error):
                    continue
                logger.exception("meeting=%s user=%s late leave failed; dropped", *key)
            else:
                self.written += 1
                logger.info("meeting=%s user=%s leave written late (left at %s)", key[0],
                            key[1], at.isoformat())
            if self._pending.get(key) == at:
                del self._pending[key]
        return len(self._pending)

    async def _retry(self) -> None:
        attempt = 0
        while self._pending:
            await asyncio.sleep(self.RETRY_DELAYS[min(attempt, len(self.RETRY_DELAYS) - 1)])
            attempt += 1
            await self.flush()


late_leaves = LateLeaves()
"""The process's leaves waiting for the database."""


async def write_left(meeting_id: Any, user_id: Any) -> None:
    """Write a leave now. The database unavailable: written later by :data:`late_leaves`,
    with this moment as the time. Any other failure is logged, not raised (the caller is
    tearing something down and must go on)."""
    at = timezone.now()
    try:
        async with attendance.writing(meeting_id, user_id):
            await _write_left(meeting_id, user_id, at)
    except Exception as error:
        if is_database_outage(error):
            logger.warning("meeting=%s user=%s leave kept to write later, database "
                           "unavailable: %s", meeting_id, user_id, error)
            late_leaves.add(meeting_id, user_id, at)
            return
        logger.exception("meeting=%s user=%s could not be marked left", meeting_id, user_id)


async def mark_left(meeting_id: Any, user_id: Any) -> None:
    """Write the leave of a user whose last holder here went, unless another node of the
    cluster still holds the user (then that node writes it when its own last holder goes)."""
    from rtc.cluster import local_node

    node = local_node()
    if node is not None and node.presence is not None:
        try:
            if await node.presence.elsewhere(meeting_id, user_id):
                logger.info("meeting=%s user=%s still present on another node", meeting_id,
                            user_id)
                return
        except Exception:
            logger.exception("meeting=%s user=%s presence on other nodes unknown; writing the "
                             "leave", meeting_id, user_id)
    await write_left(meeting_id, user_id)
