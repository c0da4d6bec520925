"""Database calls from async code on a bounded pool of threads, each with its own connection.

Channels' ``database_sync_to_async`` runs every ORM call of the process, one after another, on
a single thread: under a burst of sockets (each authenticating, checking its access and
writing its presence) they queue there, and on PostgreSQL the thread spends most of its time
waiting for one round trip after another. :func:`db_call` runs them on ``DB_THREADS`` threads
instead. Django's connections are per thread, so each thread has its own; on PostgreSQL with
Django's pool (``DB_POOL``) the default is the pool's ``max_size``, so no thread waits for a
connection another thread of the pool could have used, and each call gives its connection
back when it ends (the pool's ``CONN_MAX_AGE`` is 0).

SQLite serialises writers on a file lock: two threads writing at once make one sleep in
SQLite's busy handler, and a reader's shared lock makes a committing writer wait the same
way (bench/README.md measured no gain from a second thread). So on SQLite the default is 0:
:func:`db_call` then uses Channels' single database thread, exactly as before.

Like ``database_sync_to_async``, each call closes the thread's stale (or, at
``CONN_MAX_AGE`` 0, every) connection before and after it; and the thread knows its event loop,
so ``transaction.on_commit`` broadcasts (``meetings.events``) are handed to that loop: async
code names its loop with :func:`bind_calling_loop` (the ASGI application does, for every
connection, and so does each :func:`db_call`), and the thread reads it with
:func:`calling_loop`. A context variable carries it: ``sync_to_async`` runs the function in a
copy of the awaiting task's context, Channels' ``database_sync_to_async`` and Django's sync
views too, so no private asgiref state is read.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import channels.db
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections

from conference.batching import SyncRun, ThreadBatches

__all__ = ["bind_calling_loop", "calling_loop", "db_batches", "db_batches_out", "db_call",
           "db_threads", "shutdown"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_calling_loop: contextvars.ContextVar[tuple[asyncio.AbstractEventLoop, int] | None] = (
    contextvars.ContextVar("calling_loop", default=None))
"""The event loop (and its process id: a forked child has a copy that does not run) whose
task the current code runs for, in that task and in the threads it hands sync work to."""


def bind_calling_loop() -> None:
    """From async code: the sync work this task hands to threads from now on belongs to the
    running loop (:func:`calling_loop` names it there)."""
    loop = asyncio.get_running_loop()
    bound = _calling_loop.get()
    if bound is None or bound[0] is not loop or bound[1] != os.getpid():
        _calling_loop.set((loop, os.getpid()))


def calling_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop that the current sync work was handed from, if any (None in
    plain sync code: a management command, a loop that has stopped, a forked child)."""
    bound = _calling_loop.get()
    if bound is None or bound[1] != os.getpid():
        return None
    loop = bound[0]
    return loop if loop.is_running() and not loop.is_closed() else None


def db_threads() -> int:
    """How many database threads calls run on; 0: Channels' single database thread."""
    return int(getattr(settings, "DB_THREADS", 0))


def db_batches_out() -> int:
    """How many batches of database work (`conference.batching.Batches`) may be out at once:
    two where calls run on threads with connections of their own (one batch's trip overlaps
    the other's wait for the event loop), one on Channels' single database thread, where a
    second batch would only queue behind the first, smaller."""
    return 2 if db_threads() > 1 else 1


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=db_threads(), thread_name_prefix="db")
        return _executor


def shutdown() -> None:
    """Stop the threads (their connections close with them); the next call starts new ones."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True)


class _PooledCall(SyncToAsync):  # type: ignore[type-arg]
    """``SyncToAsync`` on the pool, closing stale connections around the call (Django's own
    ``close_old_connections``: Channels' test communicators stub out only Channels' copy)."""

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()


def db_call(func: Callable[P, R]) -> Callable[P, Any]:
    """Decorator: ``await func(...)`` runs on a database thread (see the module docstring).

    The thread is chosen at each call, so tests and settings changes take effect at once.
    """
    shared = database_sync_to_async(func)

    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        bind_calling_loop()
        if db_threads() <= 0:
            return await shared(*args, **kwargs)
        return await _PooledCall(func, thread_sensitive=False, executor=_pool())(*args, **kwargs)

    call.__name__ = getattr(func, "__name__", "db_call")
    call.__doc__ = func.__doc__
    call.__wrapped__ = func  # type: ignore[attr-defined]
    return call


def _tidy_connections() -> None:
    """Between two batches of one call on a database thread: what the call does around itself
    (Channels' copy on its shared thread, which its test communicators stub out; Django's own
    on the pool's threads)."""
    if db_threads() <= 0:
        channels.db.close_old_connections()
    else:
        close_old_connections()


def db_batches(run: SyncRun[T, R], *, max_size: int) -> ThreadBatches[T, R]:
    """Batches of database work (`conference.batching.ThreadBatches`) done by ``run`` on the
    database threads, the next batch taken by the thread as soon as one is written, with
    :func:`db_batches_out` trips out at once."""
    return ThreadBatches(run, offload=db_call, max_size=max_size, concurrency=db_batches_out,
                         between=_tidy_connections)
