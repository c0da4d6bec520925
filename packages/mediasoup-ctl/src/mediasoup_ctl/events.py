"""A small event emitter, shaped like Node's (``on``/``once``/``off``/``emit``).

Every mediasoup object is an :class:`EventEmitter` and carries a second one, ``observer``, for
monitoring, as in mediasoup. Private bookkeeping events start with ``@`` (``@close``, ...).

A listener that raises is logged and skipped: it must never break the emitter, another
listener, or a close cascade that is emitting events in a loop. A listener that is a coroutine
function is scheduled as a task on the running loop; its failure is logged as well.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["EventEmitter", "Listener"]

logger = logging.getLogger(__name__)

Listener = Callable[..., Any]

# Strong references to tasks started by async listeners (the loop keeps only weak ones).
_listener_tasks: set[asyncio.Task[Any]] = set()


class _Once:
    """Wraps a listener registered with ``once`` so ``off(original)`` still finds it."""

    __slots__ = ("listener",)

    def __init__(self, listener: Listener) -> None:
        self.listener = listener


class EventEmitter:
    """Named events with ordered listeners; emitting never raises because of a listener."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener | _Once]] = {}

    def on(self, event: str, listener: Listener) -> EventEmitter:
        """Call ``listener(*args)`` on every ``emit(event, *args)``."""
        self._listeners.setdefault(event, []).append(listener)
        return self

    add_listener = on

    def once(self, event: str, listener: Listener) -> EventEmitter:
        """Call ``listener`` on the next ``emit(event, ...)`` only."""
        self._listeners.setdefault(event, []).append(_Once(listener))
        return self

    def off(self, event: str, listener: Listener) -> EventEmitter:
        """Remove one registration of ``listener`` (added with ``on`` or ``once``)."""
        entries = self._listeners.get(event)
        if not entries:
            return self
        for index, entry in enumerate(entries):
            if entry is listener or (isinstance(entry, _Once) and entry.listener is listener):
                del entries[index]
                break
        if not entries:
            del self._listeners[event]
        return self

    remove_listener = off

    def remove_all_listeners(self, event: str | None = None) -> EventEmitter:
        """Remove the listeners of ``event``, or of every event when ``event`` is None."""
        if event is None:
            self._listeners.clear()
        else:
            self._listeners.pop(event, None)
        return self

    def listener_count(self, event: str) -> int:
        """How many listeners ``event`` has."""
        return len(self._listeners.get(event, ()))

    def emit(self, event: str, *args: Any) -> bool:
        """Call the listeners of ``event`` in order; return whether there were any.

        A listener that raises is logged and the others still run.
        """
        entries = self._listeners.get(event)
        if not entries:
            return False
        # Copy: listeners may add or remove listeners while we iterate.
        for entry in tuple(entries):
            if isinstance(entry, _Once):
                self._remove_entry(event, entry)
                listener = entry.listener
            else:
                listener = entry
            try:
                result = listener(*args)
            except Exception:
                logger.exception("event listener raised [event:%s, emitter:%r]", event, self)
                continue
            if inspect.isawaitable(result):
                _schedule(result, event)
        return True

    def _remove_entry(self, event: str, entry: Listener | _Once) -> None:
        entries = self._listeners.get(event)
        if entries is None:
            return
        try:
            entries.remove(entry)
        except ValueError:
            return
        if not entries:
            del self._listeners[event]

    async def wait_for(
        self, event: str, timeout: float | None = None  # noqa: ASYNC109
    ) -> tuple[Any, ...]:
        """Wait for the next ``event`` and return its arguments (a test and script helper)."""
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

        def listener(*args: Any) -> None:
            if not future.done():
                future.set_result(args)

        self.once(event, listener)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.off(event, listener)


def _schedule(awaitable: Any, event: str) -> None:
    """Run an async listener's coroutine as a task whose failure is logged, not lost."""

    async def runner() -> None:
        try:
            await awaitable
        except Exception:
            logger.exception("async event listener raised [event:%s]", event)

    try:
        task = asyncio.get_running_loop().create_task(runner())
    except RuntimeError:
        logger.error("async event listener without a running loop [event:%s]", event)
        if inspect.iscoroutine(awaitable):
            awaitable.close()
        return
    _listener_tasks.add(task)
    task.add_done_callback(_listener_tasks.discard)
