"""Attendance of this process's meeting connections: who is present, written once per presence.

A participant is present in a meeting while at least one *holder* keeps it so: an open meeting
socket (held under its channel name) or a call peer waiting in the reconnect grace period (held
under ``peer:<peer id>``). The first holder writes the join (the socket's join,
`meetings.joins.participants_join`), only the last one to go writes the leave
(`meetings.leaves.participants_leave`, batched like the joins). So a socket that drops and
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
:data:`late_leaves` with the time it happened (in memory and in a file of the process's own)
and is written as soon as the database answers, by this process or, if it stopped first, by
the next one to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from conference.db_threads import db_batches, db_call
from conference.keyed_locks import KeyedLocks
from conference.outage import is_database_outage
from meetings import leaves, services
from meetings.leaves import LeaveOutcome, LeaveRequest

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
        self._writers = KeyedLocks()
        self.listener: Callable[[str, str, bool], None] | None = None
        """Called with (meeting id, user id, present) when a user's first holder comes or
        its last goes (the cluster's presence mirror)."""

    @contextlib.asynccontextmanager
    async def writing(self, meeting_id: Any, user_id: Any) -> AsyncIterator[None]:
        """Hold the (meeting, user) pair's write turn: its join and leave writes commit in
        the order they entered (asyncio locks are fair)."""
        async with self._writers.hold(self._key(meeting_id, user_id)):
            yield

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
    """A late leave, with the time it happened (`LateLeaves`)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        services.participant_mark_left(meeting_id=meeting_id, user=user, at=at)


def _write_leaves(requests: list[LeaveRequest]) -> list[LeaveOutcome]:
    """A batch of leaves written now (`meetings.leaves.participants_leave`, looked up at each
    call so a test can make the database fail)."""
    return leaves.participants_leave(requests)


LEAVE_BATCH_MAX = 100
"""The most leaves written in one transaction (bounds how long a batch holds its rows)."""

_leaves = db_batches(_write_leaves, max_size=LEAVE_BATCH_MAX)
"""The leaves' database trips, taken together like the joins' (`rtc.websocket.join._joins`):
when a meeting ends and its sockets close in the same second, their leaves share statements
and a commit instead of queueing one by one on the database threads; a leave alone goes at
once."""


class LateLeaves:
    """Leaves that could not be written because the database was unavailable, kept with the
    time they happened and written (with that time) as soon as it answers again, so an outage
    delays attendance but loses none of it. Retried with backoff from ``RETRY_DELAYS`` (the
    last one repeats).

    They are also on disk from the moment they are kept (:class:`_Spool`: a file of this
    process's own in ``settings.LATE_LEAVES_DIR``), so a process that stops before the database
    is back loses none: on its way out (:meth:`close`, from `rtc.lifecycle.shutdown`) it tries once
    more and logs how many are left in the file, and the next process to start on the machine adopts
    every file whose process is gone (:meth:`adopt`) and writes them. A leave is lost only if
    the disk refuses the file too (logged as an error, with the count).
    """

    RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)

    def __init__(self, directory: Path | None = None) -> None:
        self._pending: dict[tuple[str, str], datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._spool = _Spool(directory)
        self.written = 0
        """Late leaves written so far (monitoring, tests)."""

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def path(self) -> Path | None:
        """This process's file while it holds pending leaves."""
        return self._spool.path

    def add(self, meeting_id: Any, user_id: Any, at: datetime) -> None:
        """Keep a leave to write later (the latest one per user and meeting wins)."""
        self._pending[(str(meeting_id), str(user_id))] = at
        self._spool.save(self._pending)
        self._start()

    def _start(self) -> None:
        if self._pending and (self._task is None or self._task.done()):
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
        self._spool.save(self._pending)
        return len(self._pending)

    async def _retry(self) -> None:
        attempt = 0
        while self._pending:
            await asyncio.sleep(self.RETRY_DELAYS[min(attempt, len(self.RETRY_DELAYS) - 1)])
            attempt += 1
            await self.flush()

    async def adopt(self) -> int:
        """Take over the files of processes that stopped with leaves pending, and write them
        (now, else with the usual retries); how many were adopted. Run at start-up."""
        adopted = self._spool.adopt()
        for key, at in adopted.items():
            if key not in self._pending or self._pending[key] < at:
                self._pending[key] = at
        if adopted:
            logger.warning("late leaves: %s adopted from a stopped process", len(adopted))
            self._spool.save(self._pending)
            await self.flush()
            self._start()
        return len(adopted)

    async def close(self) -> int:
        """On the way out: one more try, then the retries stop; how many stay pending (kept
        in the file for the next start, or lost if it could not be written: both logged)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        left = await self.flush() if self._pending else 0
        if left and self._spool.saved:
            logger.warning("late leaves: %s still pending (database unavailable), kept in %s "
                           "for the next start", left, self._spool.path)
        elif left:
            logger.error("late leaves: %s LOST (database unavailable and the file could not "
                         "be written)", left)
        self._spool.release(keep=bool(left))
        return left


class _Spool:
    """A process's pending late leaves on disk: ``<directory>/<pid>-<random>.jsonl``, held
    under an exclusive ``flock`` while the process lives (so another process adopts only the
    files of processes that are gone), removed once nothing is pending."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._fd: int | None = None
        self.path: Path | None = None
        self.saved = True
        """Whether the last save reached the disk."""

    @property
    def directory(self) -> Path:
        if self._directory is None:
            from django.conf import settings

            self._directory = Path(settings.LATE_LEAVES_DIR)
        return self._directory

    def save(self, pending: dict[tuple[str, str], datetime]) -> None:
        """Write ``pending`` (all of it; an empty one removes the file). Failures are logged."""
        if not pending:
            self.release(keep=False)
            self.saved = True
            return
        lines = "".join(json.dumps({"meeting": m, "user": u, "at": at.isoformat()}) + "\n"
                        for (m, u), at in pending.items()).encode()
        try:
            if self._fd is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}.jsonl"
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd, self.path = fd, path
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, lines, 0)
            os.fsync(self._fd)
            self.saved = True
        except OSError as error:
            self.saved = False
            logger.error("late leaves: %s pending but not saved to %s: %s", len(pending),
                         self.directory, error)

    def release(self, *, keep: bool) -> None:
        """Let go of this process's file: removed (nothing pending), or kept for the next
        process to adopt (shutting down with leaves pending)."""
        fd, self._fd = self._fd, None
        path, self.path = self.path, None
        if fd is None:
            return
        if not keep and path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        os.close(fd)

    def adopt(self) -> dict[tuple[str, str], datetime]:
        """Read and remove every file in the directory whose process is gone (its lock free)."""
        found: dict[tuple[str, str], datetime] = {}
        try:
            paths = sorted(self.directory.glob("*.jsonl"))
        except OSError:
            return found
        for path in paths:
            if path == self.path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # its process is alive
                os.close(fd)
                continue
            try:
                with os.fdopen(os.dup(fd), "rb") as handle:
                    for line in handle.read().decode(errors="replace").splitlines():
                        try:
                            item = json.loads(line)
                            at = datetime.fromisoformat(item["at"])
                            key = (str(item["meeting"]), str(item["user"]))
                        except (ValueError, KeyError, TypeError):
                            logger.warning("late leaves: unreadable line in %s: %r", path, line)
                            continue
                        found[key] = max(at, found.get(key, at))
                path.unlink()
            finally:
                os.close(fd)
        return found


late_leaves = LateLeaves()
"""The process's leaves waiting for the database."""


async def write_left(meeting_id: Any, user_id: Any) -> None:
    """Write a leave now (in a batch with the leaves asked meanwhile). The database
    unavailable: written later by :data:`late_leaves`, with this moment as the time. Any other
    failure is logged, not raised (the caller is tearing something down and must go on)."""
    at = timezone.now()
    try:
        async with attendance.writing(meeting_id, user_id):
            await _leaves.submit(LeaveRequest(meeting_id=meeting_id, user_id=user_id))
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
