"""Work that arrives together, done together: :class:`Batches`.

A burst of sockets (a few hundred users opening their meeting on the hour) asks the database
the same kind of question a few hundred times in one second: whose token is this, may this
user join. Asked one by one they queue on the database threads, each paying for its own
statements and commit. A :class:`Batches` sends the first item at once, alone, and gathers
the items that arrive while it is out into the next batch (up to ``max_size``), so at a
steady rate nothing waits for a batch, and in a burst the items share their trips.

Where the trips can overlap (several database threads with their own connections, a Redis
server), ``concurrency`` lets that many batches be out at once: in a burst on PostgreSQL the
first socket's join went alone and the next hundred waited for its whole trip (about 40 ms of
a loaded event loop) before theirs could start; with two out, they start while it is out.

State is per event loop (a test's loop, the server's loop), so a loop that closed with work
out cannot strand the next loop's callers.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Batches"]

T = TypeVar("T")
R = TypeVar("R")

Run = Callable[[list[T]], Awaitable[list["R | Exception"]]]
Concurrency = int | Callable[[], int]


class _Queue(Generic[T, R]):
    """One loop's waiting items and how many batches are out (their drains running)."""

    def __init__(self) -> None:
        self.waiting: list[tuple[T, asyncio.Future[R]]] = []
        self.running = 0


class Batches(Generic[T, R]):
    """Items of one kind, done in batches by ``run``: called with the items of a batch, it
    returns each item's outcome in order, a result or the exception that item's caller is to
    get; if ``run`` itself raises, every caller of the batch gets that exception.
    ``concurrency``: how many batches may be out at once (a number, or a function read at
    each submission, so settings changes take effect at once)."""

    def __init__(self, run: Run[T, R], *, max_size: int, concurrency: Concurrency = 1) -> None:
        self._run = run
        self.max_size = max_size
        self._concurrency = concurrency
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue[T, R]] = (
            weakref.WeakKeyDictionary())

    async def submit(self, item: T) -> R:
        """The item's outcome once its batch is done (raised when it is an exception)."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[R] = loop.create_future()
        queue.waiting.append((item, future))
        if queue.running < self.concurrency():
            queue.running += 1
            loop.create_task(self._drain(queue))
        return await future

    def concurrency(self) -> int:
        """How many batches may be out at once now (at least one)."""
        limit = self._concurrency
        return max(1, limit() if callable(limit) else limit)

    async def _drain(self, queue: _Queue[T, R]) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while queue.waiting:
                batch = queue.waiting[:self.max_size]
                del queue.waiting[:self.max_size]
                try:
                    outcomes = await self._run([item for item, _ in batch])
                except Exception as error:  # the trip itself failed: every caller is told
                    outcomes = [error] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller gave up waiting
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                batch = []
        finally:  # normally nothing is left; cancelled (the loop closing): its batch is
            # cancelled, and what waits too unless another batch is still out to take it
            queue.running -= 1
            for _, future in batch:
                future.cancel()
            if not queue.running:
                for _, future in queue.waiting:
                    future.cancel()
                queue.waiting.clear()
