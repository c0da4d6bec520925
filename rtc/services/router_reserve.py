"""Routers made ahead of the meetings that will need them: :class:`RouterReserve`.

A meeting's room needs a router, a worker round trip. At the top of the hour dozens of
meetings open in the same second, the event loop is saturated, and that round trip is a turn
of the loop or two (tens of milliseconds) which every join of the meeting waits for:
bench/README.md, session 14, 38 ms at the median and up to 64 ms of a 200-peer burst's
``rtc:join``. A few idle routers on each worker, made while the loop has time, let a room open
without it; each one taken is replaced in the background.

A spare router is an ordinary router of its worker with no transports (an idle router costs
the worker a few kilobytes and no CPU); it dies with its worker like any other, and counts for
nothing when the pool picks the least loaded worker or checks ``max_rooms_per_worker``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mediasoup_ctl import Router, Worker

__all__ = ["RouterReserve"]

logger = logging.getLogger(__name__)


class RouterReserve:
    """Up to ``wanted()`` idle routers on each worker, made by ``create(worker)``; background
    work goes through ``start_task`` (the pool's, so closing the pool stops it)."""

    def __init__(self, *, wanted: Callable[[], int],
                 create: Callable[[Worker], Awaitable[Router]],
                 start_task: Callable[[Awaitable[Any]], None]) -> None:
        self._wanted = wanted
        self._create = create
        self._start_task = start_task
        self._spares: dict[Worker, list[Router]] = {}
        self._making: dict[Worker, int] = {}

    def take(self, worker: Worker) -> Router | None:
        """An idle router of ``worker`` (no longer a spare), or None when it has none; either
        way the worker's reserve is filled up again in the background."""
        spares = self._spares.get(worker, [])
        router = None
        while spares and router is None:
            candidate = spares.pop(0)
            if not candidate.closed:
                router = candidate
        self.fill(worker)
        return router

    def count(self, worker: Worker) -> int:
        """The idle routers ``worker`` holds for the reserve now."""
        return sum(1 for router in self._spares.get(worker, ()) if not router.closed)

    def holds(self, router_id: str) -> bool:
        """Whether the router ``router_id`` is an idle router of the reserve."""
        return any(router.id == router_id for spares in self._spares.values()
                   for router in spares)

    def fill(self, worker: Worker) -> None:
        """Start making the routers ``worker`` lacks (none for a closed worker)."""
        if worker.closed:
            return
        missing = self._wanted() - self.count(worker) - self._making.get(worker, 0)
        for _ in range(max(0, missing)):
            self._making[worker] = self._making.get(worker, 0) + 1
            self._start_task(self._make(worker))

    def forget(self, worker: Worker) -> None:
        """A worker that died or left the pool: its spares went with it."""
        self._spares.pop(worker, None)

    async def _make(self, worker: Worker) -> None:
        try:
            router = await self._create(worker)
        except Exception as error:  # the worker died meanwhile; its replacement is filled
            if not worker.closed:
                logger.warning("a spare router could not be made [worker:%s]: %s",
                               worker.pid, error)
            return
        finally:
            left = self._making.get(worker, 1) - 1
            if left:
                self._making[worker] = left
            else:
                self._making.pop(worker, None)
        if worker.closed or router.closed:
            return
        if self.count(worker) >= self._wanted():  # fewer are wanted now
            router.close()
            return
        self._spares.setdefault(worker, []).append(router)
