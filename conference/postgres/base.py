"""Django's PostgreSQL backend, failing at once while the database is known to be down.

Every ORM call of the meeting sockets runs on one database thread (Channels'
``database_sync_to_async``). While PostgreSQL is unreachable, each of them waited for a
connection for the whole ``DB_POOL_TIMEOUT`` before failing, one after the other: with a few
queued, a socket's ``rtc:join`` took the sum of their waits (12 s for three, measured in
tests/faults). So after a connection attempt failed, the breaker is open: the next attempts
fail at once (``OperationalError``, which the surfaces answer as ``unavailable``), except one
direct probe connection (``connect_timeout`` 1 s) at most every ``PROBE_INTERVAL`` seconds;
when a probe connects, the breaker closes and the pool serves again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db.backends.postgresql import base

from conference import clock as clocks

__all__ = ["Breaker", "DatabaseWrapper", "breaker"]

logger = logging.getLogger(__name__)

PROBE_INTERVAL = 0.5
PROBE_CONNECT_TIMEOUT = 1


class Breaker:
    """Open after a failed connection, until a probe connects again (thread safe)."""

    def __init__(self, clock: clocks.Clock | None = None) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        """Probe intervals are measured on this clock; None: the process's."""
        self.opened_at: float | None = None
        self._last_probe = 0.0
        self.trips = 0
        """How many times it opened (monitoring, tests)."""

    @property
    def is_open(self) -> bool:
        """Whether connections are being refused at once now."""
        return self.opened_at is not None

    def trip(self, error: BaseException) -> None:
        """A connection attempt failed: open (if not already)."""
        with self._lock:
            if self.opened_at is None:
                self.opened_at = self._now()
                self.trips += 1
                logger.warning("database unreachable, failing fast until it answers: %s", error)

    def _now(self) -> float:
        return (self._clock or clocks.current()).monotonic()

    def close(self) -> None:
        """A connection worked: closed."""
        with self._lock:
            if self.opened_at is not None:
                logger.warning("database reachable again after %.1fs",
                               self._now() - self.opened_at)
            self.opened_at = None

    def before_connect(self, database: Any, conn_params: dict[str, Any]) -> None:
        """Raise ``database.OperationalError`` now while open, unless a probe (one per
        interval) connects, which closes it."""
        with self._lock:
            if self.opened_at is None:
                return
            now = self._now()
            if now - self._last_probe < PROBE_INTERVAL:
                raise database.OperationalError("database unavailable (failing fast)")
            self._last_probe = now
        try:
            database.connect(**{**conn_params, "connect_timeout": PROBE_CONNECT_TIMEOUT}).close()
        except database.Error as error:
            raise database.OperationalError(f"database unavailable: {error}") from error
        self.close()


breaker = Breaker()
"""The process's breaker (one database)."""


class DatabaseWrapper(base.DatabaseWrapper):
    """PostgreSQL through :data:`breaker`."""

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        """A connection (from the pool when it is on), or an immediate error while open."""
        breaker.before_connect(self.Database, conn_params)
        try:
            connection = super().get_new_connection(conn_params)
        except self.Database.Error as error:
            breaker.trip(error)
            raise
        breaker.close()
        return connection
