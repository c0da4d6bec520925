"""Channels' per-message dispatch loop without ``asyncio.wait``.

Every Channels consumer reads its two sources (the socket's ASGI ``receive`` and its channel
layer ``receive``) through ``channels.utils.await_many_dispatch``: a task per source, and for
every message an ``asyncio.wait(tasks, FIRST_COMPLETED)``, which makes a set of the tasks, a
waiter future, adds a done callback to each task and removes them all again (a list rebuilt
per task), then builds the done and pending sets. In a burst of 200 joins (about 30 messages a
peer) that plumbing, with the ``ensure_future`` of the next read, was 10-12 % of the event
loop (py-spy, bench/README.md, call set-up).

:func:`await_many_dispatch` keeps Channels' behaviour exactly (one read in flight per source,
the next read started only after the previous message was dispatched, messages of tasks found
done dispatched in source order, a source's exception raised from the loop, every read
cancelled and awaited on the way out, whatever ends it) and does the waiting with one done
callback per read and one future per wait. :func:`install` puts it where
``channels.consumer.AsyncConsumer.__call__`` looks it up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["await_many_dispatch", "install"]

_installed = False


async def await_many_dispatch(consumer_callables: Sequence[Callable[[], Awaitable[Any]]],
                              dispatch: Callable[[Any], Awaitable[Any]]) -> None:
    """Read each callable's messages in turn and ``await dispatch(message)`` on each, as
    ``channels.utils.await_many_dispatch`` does."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] | None = None

    def wake(_: asyncio.Future[Any]) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def start(index: int) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(consumer_callables[index]())
        task.add_done_callback(wake)
        return task

    tasks = [start(index) for index in range(len(consumer_callables))]
    try:
        while True:
            if not any(task.done() for task in tasks):
                waiter = loop.create_future()
                try:
                    await waiter
                finally:
                    waiter = None
            for index, task in enumerate(tasks):
                if task.done():
                    result = task.result()
                    await dispatch(result)
                    tasks[index] = start(index)
    finally:
        for task in tasks:
            task.remove_done_callback(wake)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


def install() -> None:
    """Make Channels' consumers use :func:`await_many_dispatch` (idempotent)."""
    global _installed
    if _installed:
        return
    from channels import consumer

    consumer.await_many_dispatch = await_many_dispatch
    _installed = True
