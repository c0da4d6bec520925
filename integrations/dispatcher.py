"""The background webhook dispatcher of a serving process: an asyncio loop in its own thread.

Started lazily by the first :meth:`WebhookDispatcher.wake` (which `integrations.events` calls
after the commit that stored an event), it claims due deliveries, POSTs them concurrently
(blocking HTTP in a small thread pool, database work in one thread), and sleeps until the next
retry is due or it is woken again. It runs beside the ASGI event loop, never on it, so a slow
receiver or a slow query cannot delay signaling. One integration's deliveries go out one at a
time in the order they were stored (a failed one is retried later, so order is best effort).

With ``INTEGRATIONS["WEBHOOK_DISPATCHER"]`` off, `wake` does nothing and deliveries wait for
`manage.py deliver_webhooks` (e.g. one delivering process beside several serving ones).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from django.db import OperationalError, close_old_connections
from django.db.models import Min
from django.utils import timezone

from integrations.config import integration_settings
from integrations.delivery import claim_due, prepare_attempt, record_attempt, send_attempt
from integrations.models import WebhookDelivery

__all__ = ["WebhookDispatcher", "dispatcher", "retry_on_lock"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
BATCH = 50
LOCK_RETRIES = 5


def retry_on_lock(fn: Callable[..., T], *args: Any) -> T:
    """Run a database job, retrying it a few times on a "table is locked" error.

    SQLite's shared-cache in-memory databases (the test database) report a lock conflict at
    once instead of waiting for it as file databases and PostgreSQL do.
    """
    for attempt in range(LOCK_RETRIES - 1):
        try:
            return fn(*args)
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.05 * (attempt + 1))
    return fn(*args)


def _with_cleanup(fn: Callable[..., T], *args: Any) -> T:
    """Run a database job in the dispatcher's database thread, then release its connection."""
    try:
        return retry_on_lock(fn, *args)
    finally:
        close_old_connections()


def _seconds_until_next_due() -> float | None:
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).aggregate(
        first=Min("next_attempt_at"))["first"]
    if due is None:
        return None
    return max(0.0, (due - timezone.now()) / timedelta(seconds=1))


class WebhookDispatcher:
    """Delivers due webhooks from a daemon thread; `wake()` is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._stopping = False
        self.rounds = 0
        """Delivery rounds run so far (tests wait on it)."""

    @property
    def running(self) -> bool:
        """Whether the dispatcher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Look for due deliveries now (starting the dispatcher if needed)."""
        if not integration_settings().webhook_dispatcher:
            return
        self.start()
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None:
            try:
                loop.call_soon_threadsafe(wakeup.set)
            except RuntimeError:  # the loop closed meanwhile (stopping)
                pass

    def start(self) -> None:
        """Start the thread unless it runs; returns once its loop is ready."""
        with self._lock:
            if self.running:
                return
            self._stopping = False
            ready = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(ready,),
                                            name="webhook-dispatcher", daemon=True)
            self._thread.start()
            ready.wait(timeout=5)
            logger.info("webhook dispatcher started thread=%s", self._thread.ident)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current round (tests, shutdown); idempotent."""
        with self._lock:
            thread, loop, wakeup = self._thread, self._loop, self._wakeup
            if thread is None:
                return
            self._stopping = True
            if loop is not None and wakeup is not None:
                try:
                    loop.call_soon_threadsafe(wakeup.set)
                except RuntimeError:
                    pass
            thread.join(timeout)
            self._thread = None
            logger.info("webhook dispatcher stopped")

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._main(ready))
        except Exception:
            logger.exception("webhook dispatcher crashed")
        finally:
            self._loop = None
            self._wakeup = None
            ready.set()

    async def _main(self, ready: threading.Event) -> None:
        config = integration_settings()
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._wakeup.set()  # a first round at once: there may be due deliveries already
        ready.set()
        database = ThreadPoolExecutor(1, thread_name_prefix="webhook-db")
        posting = ThreadPoolExecutor(max(1, config.webhook_concurrency),
                                     thread_name_prefix="webhook-post")
        try:
            while not self._stopping:
                timeout = config.webhook_poll_seconds
                if self._wakeup.is_set():
                    self._wakeup.clear()
                    await self._round(database, posting)
                    due_in = await self._loop.run_in_executor(
                        database, _with_cleanup, _seconds_until_next_due)
                    if due_in is not None:
                        timeout = min(timeout, due_in)
                    if due_in == 0:
                        self._wakeup.set()
                        continue
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=max(timeout, 0.05))
                except TimeoutError:
                    self._wakeup.set()
        finally:
            database.shutdown(wait=True)
            posting.shutdown(wait=True)

    async def _round(self, database: ThreadPoolExecutor, posting: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                claimed = await loop.run_in_executor(database, _with_cleanup,
                                                     lambda: claim_due(limit=BATCH))
                queues: dict[int, list[int]] = {}
                for pk, integration_id in claimed:
                    queues.setdefault(integration_id, []).append(pk)
                await asyncio.gather(*(self._deliver_in_order(database, posting, ids)
                                       for ids in queues.values()))
                if len(claimed) < BATCH:
                    break
        except Exception:
            logger.exception("webhook dispatcher round failed")
        finally:
            self.rounds += 1


    @staticmethod
    async def _deliver_in_order(database: ThreadPoolExecutor, posting: ThreadPoolExecutor,
                                delivery_ids: list[int]) -> None:
        """One integration's deliveries one after another, so its receiver sees them in the
        order they happened (retries aside); integrations are served concurrently. Database
        work stays in the one database thread, POSTs run in the posting pool."""
        loop = asyncio.get_running_loop()
        for pk in delivery_ids:
            try:
                attempt = await loop.run_in_executor(database, _with_cleanup,
                                                     prepare_attempt, pk)
                if attempt is None:
                    continue
                result = await loop.run_in_executor(posting, send_attempt, attempt)
                await loop.run_in_executor(database, _with_cleanup, record_attempt, pk, result)
            except Exception:
                logger.exception("webhook=%s attempt failed", pk)


dispatcher = WebhookDispatcher()
"""The process's dispatcher."""
