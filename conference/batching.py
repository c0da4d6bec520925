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
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["Batches", "ThreadBatches"]

T = TypeVar("T")
R = TypeVar("R")
Q = TypeVar("Q")

Run = Callable[[list[T]], Awaitable[list["R | Exception"]]]
Concurrency = int | Callable[[], int]


def _queue_of(queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Q],
              make: Callable[[], Q]) -> tuple[asyncio.AbstractEventLoop, Q]:
    """The running loop and its queue in ``queues``, made on the loop's first item."""
    loop = asyncio.get_running_loop()
    queue = queues.get(loop)
    if queue is None:
        queue = queues[loop] = make()
    return loop, queue


def _at_least_one(limit: Concurrency) -> int:
    """A concurrency setting read now (a number, or a function of none), at least one."""
    return max(1, limit() if callable(limit) else limit)


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
        loop, queue = _queue_of(self._queues, _Queue)
        future: asyncio.Future[R] = loop.create_future()
        queue.waiting.append((item, future))
        if queue.running < self.concurrency():
            queue.running += 1
            loop.create_task(self._drain(queue))
        return await future

    def concurrency(self) -> int:
        """How many batches may be out at once now (at least one)."""
        return _at_least_one(self._concurrency)

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
                _settle(batch, outcomes)
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


Offload = Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]
SyncRun = Callable[[list[T]], list["R | Exception"]]


class _Runner:
    """One trip of a drain to the worker thread: whether the thread began it, and whether
    its drain gave up waiting for it (then the thread hands nothing back for a next trip)."""

    __slots__ = ("abandoned", "started")

    def __init__(self) -> None:
        self.started = False
        self.abandoned = False


class _ThreadQueue(Generic[T, R]):
    """One loop's waiting items and how many drains are out, shared with the worker threads
    (under ``lock``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: list[tuple[T, asyncio.Future[R]]] = []
        self.running = 0


class ThreadBatches(Generic[T, R]):
    """:class:`Batches` for a synchronous ``run`` done on a worker thread (``offload`` turns a
    function into an awaitable call on that thread: a database thread, `conference.db_threads
    .db_call`), where the thread goes on with the next batch itself.

    A :class:`Batches` hands each batch back to the event loop, which then sends the next; in a
    burst that loop is saturated, and measured on SQLite the database thread sat idle about
    20 ms after each batch before the loop's drain came back with the next one (bench/README.md,
    session 13). Here the thread takes the items that piled up while its batch was out and runs
    them at once, up to ``max_turns`` batches a trip (then the drain sends it again, so other
    work queued for the same thread gets its turn). Each batch's outcomes go to its callers'
    futures in one loop callback. ``between`` is called on the thread between two batches of a
    trip (the connection tidying the offload does around a call)."""

    def __init__(self, run: SyncRun[T, R], *, offload: Offload, max_size: int,
                 concurrency: Concurrency = 1, max_turns: int = 8,
                 between: Callable[[], None] | None = None) -> None:
        self._run = run
        self._offload = offload
        self.max_size = max_size
        self.max_turns = max_turns
        self._concurrency = concurrency
        self._between = between
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                _ThreadQueue[T, R]] = weakref.WeakKeyDictionary()
        self._drains: set[asyncio.Task[None]] = set()

    def concurrency(self) -> int:
        """How many trips may be out at once now (at least one)."""
        return _at_least_one(self._concurrency)

    async def submit(self, item: T) -> R:
        """The item's outcome once its batch is done (raised when it is an exception)."""
        loop, queue = _queue_of(self._queues, _ThreadQueue)
        future: asyncio.Future[R] = loop.create_future()
        with queue.lock:
            queue.waiting.append((item, future))
            start = queue.running < self.concurrency()
            if start:
                queue.running += 1
        if start:
            drain = loop.create_task(self._drain(loop, queue))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await future

    async def _drain(self, loop: asyncio.AbstractEventLoop, queue: _ThreadQueue[T, R]) -> None:
        """Take a batch (on the loop, as :class:`Batches` does: the first item of a quiet
        moment goes alone) and send it to the thread, which goes on with what piles up; again
        when the thread stops after ``max_turns`` with items waiting."""
        while True:
            with queue.lock:
                if not queue.waiting:  # another drain's thread took them
                    queue.running -= 1
                    return
                batch = queue.waiting[:self.max_size]
                del queue.waiting[:self.max_size]
            runner = _Runner()
            try:
                more = await self._offload(self._trip)(loop, queue, runner, batch)
            except BaseException as error:
                self._give_up(queue, runner, batch, error)
                if isinstance(error, asyncio.CancelledError):
                    raise
                return
            if not more:
                return

    @staticmethod
    def _give_up(queue: _ThreadQueue[T, R], runner: _Runner,
                 batch: list[tuple[T, asyncio.Future[R]]], error: BaseException) -> None:
        """The drain's trip failed before the thread began it (an executor shut down, the
        drain cancelled while the trip queued): the batch's callers get the error (cancelled
        for a cancellation), and so does what waits when no other drain is out. A trip its
        thread already began goes on: it settles what it took and counts itself out."""
        with queue.lock:
            runner.abandoned = True
            if runner.started:
                return
            queue.running -= 1
            told = batch + ([] if queue.running else queue.waiting[:])
            if not queue.running:
                queue.waiting.clear()
        cancelled = isinstance(error, asyncio.CancelledError)
        for _, future in told:
            if future.done():
                continue
            if cancelled:
                future.cancel()
            else:
                future.set_exception(error)

    def _trip(self, loop: asyncio.AbstractEventLoop, queue: _ThreadQueue[T, R],
              runner: _Runner, batch: list[tuple[T, asyncio.Future[R]]]) -> bool:
        """On the worker thread: ``batch``, then the items that piled up meanwhile, batch after
        batch, at most ``max_turns``. True when it stopped with items waiting (its drain takes
        the next batch, still counted out); False when it counted itself out."""
        with queue.lock:
            if runner.abandoned:
                return False
            runner.started = True
        turns = 0
        while True:
            try:
                if turns and self._between is not None:
                    self._between()
                outcomes: list[R | Exception] = self._run([item for item, _ in batch])
            except Exception as error:  # the trip itself failed: every caller is told
                outcomes = [error] * len(batch)
            turns += 1
            with queue.lock:
                try:
                    loop.call_soon_threadsafe(_settle, batch, outcomes)
                except RuntimeError:  # the loop closed: nobody is left to tell
                    queue.running -= 1
                    return False
                if not queue.waiting:
                    queue.running -= 1
                    return False
                if turns >= self.max_turns and not runner.abandoned:
                    return True
                batch = queue.waiting[:self.max_size]
                del queue.waiting[:self.max_size]


def _settle(batch: list[tuple[Any, asyncio.Future[Any]]], outcomes: list[Any]) -> None:
    """Each caller of a batch gets its outcome (unless it gave up waiting): on the loop, from
    a `Batches` drain or a `ThreadBatches` thread's callback."""
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
