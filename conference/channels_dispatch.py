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

A consumer's channel-layer source (``functools.partial(layer.receive, channel)``, as Channels
builds it) whose layer can ``attach`` the channel is read from its
`conference.channel_inbox.Inbox` instead of a receive task per message: a message that
arrives while the consumer waits wakes it directly, and one that arrives while it is busy is
popped when it is done. The socket's own source keeps its read task and goes first when both
have a message, as in Channels.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from conference.channel_inbox import Inbox

__all__ = ["await_many_dispatch", "install"]

_installed = False


async def await_many_dispatch(consumer_callables: Sequence[Callable[[], Awaitable[Any]]],
                              dispatch: Callable[[Any], Awaitable[Any]]) -> None:
    """Read each callable's messages in turn and ``await dispatch(message)`` on each, as
    ``channels.utils.await_many_dispatch`` does."""
    attachable = _attachable(consumer_callables)
    if attachable is not None:
        await _dispatch_attached(consumer_callables[0], *attachable, dispatch)
    else:
        await _dispatch_with_tasks(consumer_callables, dispatch)


async def _dispatch_with_tasks(consumer_callables: Sequence[Callable[[], Awaitable[Any]]],
                               dispatch: Callable[[Any], Awaitable[Any]]) -> None:
    """One read task per source at a time, each source's messages in order."""
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
            await _cancel_read(task, wake)


async def _cancel_read(task: asyncio.Future[Any], wake: Callable[[Any], None]) -> None:
    """Stop a source's pending read (its callback first) and wait until it has stopped."""
    task.remove_done_callback(wake)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def _attachable(consumer_callables: Sequence[Callable[[], Awaitable[Any]]]
                ) -> tuple[Any, str] | None:
    """(layer, channel) when the sources are a socket's and a channel's of a layer that can
    ``attach`` it (Channels' ``[receive, partial(layer.receive, channel_name)]``)."""
    if len(consumer_callables) != 2:
        return None
    source = consumer_callables[1]
    if not isinstance(source, functools.partial) or len(source.args) != 1 or source.keywords:
        return None
    layer = getattr(source.func, "__self__", None)
    if getattr(source.func, "__name__", None) != "receive" or not hasattr(layer, "attach"):
        return None
    return layer, source.args[0]


def _queue_of(receive: Callable[[], Awaitable[Any]]) -> asyncio.Queue[Any] | None:
    """The ``asyncio.Queue`` whose own ``get`` is the socket's ``receive`` (daphne's input
    queue, asgiref's test communicator's), or None for any other callable."""
    queue = getattr(receive, "__self__", None)
    if type(queue) is asyncio.Queue and getattr(receive, "__func__", None) is asyncio.Queue.get:
        return queue
    return None


async def _dispatch_attached(receive: Callable[[], Awaitable[Any]], layer: Any, channel: str,
                             dispatch: Callable[[Any], Awaitable[Any]]) -> None:
    """The dispatch loop of a socket whose channel is attached to its layer.

    When the socket's ``receive`` is a plain queue's ``get``, the frames already queued are
    taken from the queue directly, and a read task is started only to wait for the next one:
    a read task per frame started after the previous frame's dispatch and ran a turn later,
    and woke this loop a turn after that, so in a burst each queued request waited two turns
    of a busy loop (the ``rtc:join`` a socket sent on opening waited 10-30 ms after its
    ``connect`` finished). The socket's messages and the channel's alternate when both have
    some, each source's in order."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] | None = None

    def wake(_: Any = None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    inbox: Inbox | None = layer.attach(channel, wake)
    if inbox is None:  # not a channel the layer can attach: Channels' way
        await _dispatch_with_tasks([receive, functools.partial(layer.receive, channel)],
                                   dispatch)
        return

    def start() -> asyncio.Future[Any]:
        read = asyncio.ensure_future(receive())
        read.add_done_callback(wake)
        return read

    queue = _queue_of(receive)
    task: asyncio.Future[Any] | None = None if queue is not None else start()
    try:
        while True:
            progressed = False
            if task is not None:
                if task.done():
                    result = task.result()
                    task = None if queue is not None else start()
                    await dispatch(result)
                    progressed = True
            elif queue is not None and queue.qsize():
                await dispatch(queue.get_nowait())
                progressed = True
            message = inbox.pop()
            if message is not None:
                await dispatch(message)
                continue
            if progressed:
                continue
            if task is None:
                task = start()
                continue  # a frame that came meanwhile: the read may be done already
            waiter = loop.create_future()
            try:
                await waiter
            finally:
                waiter = None
    finally:
        layer.detach(channel, inbox)
        if task is not None:
            await _cancel_read(task, wake)


def install() -> None:
    """Make Channels' consumers use :func:`await_many_dispatch` (idempotent)."""
    global _installed
    if _installed:
        return
    from channels import consumer

    consumer.await_many_dispatch = await_many_dispatch
    _installed = True
