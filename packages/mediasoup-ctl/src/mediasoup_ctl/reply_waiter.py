"""The future a request's caller awaits, woken in the loop turn that reads the worker's reply.

An ``asyncio.Future`` hands its done callbacks to ``loop.call_soon``: the task awaiting a reply
resumes one turn after the turn that read it, and every round trip with the worker pays for a
second turn of the event loop (a poll of the selector, its bookkeeping, a handle), about a
tenth of the Python side of the shortest requests. mediasoup's Node layer resolves its promise
in the read callback and the awaiting function continues in the same tick (a microtask).

:class:`ReplyWaiter` keeps asyncio's future protocol (what ``Task`` relies on: the
``_asyncio_future_blocking`` flag, ``get_loop``, ``add_done_callback`` with a context,
``cancel``; ``ensure_future``, ``gather``, ``wait`` and ``wait_for`` accept it as a future)
and adds one thing: the channel's read callback resolves it with ``now=True``, which runs the
callbacks at once, so the awaiting task takes its next step inside that callback. Only there:
a task may not step inside another task's step (asyncio refuses to enter a task while another
runs), so when a task is running (a close failing every pending request, a test calling the
read callback) the callbacks go through ``call_soon`` as an ``asyncio.Future``'s do. Callbacks
run at once are isolated like the loop isolates them: an exception is reported to the loop's
exception handler and the next callback still runs.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["ReplyWaiter"]

T = TypeVar("T")

_PENDING, _CANCELLED, _FINISHED = 0, 1, 2
_current_task = asyncio.current_task

Callback = Callable[["ReplyWaiter[Any]"], object]


class ReplyWaiter(Generic[T]):
    """A future of one worker reply (see the module's docstring)."""

    __slots__ = ("_loop", "_state", "_result", "_exception", "_callbacks", "_cancel_message",
                 "_asyncio_future_blocking")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._state = _PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[tuple[Callback, contextvars.Context]] = []
        self._cancel_message: Any = None
        self._asyncio_future_blocking = False

    # -- the asyncio future protocol --------------------------------------------------------

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """The loop the waiter belongs to."""
        return self._loop

    def done(self) -> bool:
        """Whether it has a result, an exception, or was cancelled."""
        return self._state != _PENDING

    def cancelled(self) -> bool:
        """Whether it was cancelled."""
        return self._state == _CANCELLED

    def result(self) -> T:
        """The reply; raises the failure, ``CancelledError`` or ``InvalidStateError``."""
        if self._state == _FINISHED:
            if self._exception is not None:
                raise self._exception
            return self._result  # type: ignore[no-any-return]
        if self._state == _CANCELLED:
            raise self._make_cancelled_error()
        raise asyncio.InvalidStateError("the reply has not come yet")

    def exception(self) -> BaseException | None:
        """The failure, or None; raises as ``result`` does when cancelled or not done."""
        if self._state == _FINISHED:
            return self._exception
        if self._state == _CANCELLED:
            raise self._make_cancelled_error()
        raise asyncio.InvalidStateError("the reply has not come yet")

    def add_done_callback(self, fn: Callback, *,
                          context: contextvars.Context | None = None) -> None:
        """Call ``fn(self)`` once done (through ``call_soon`` when it already is)."""
        if context is None:
            context = contextvars.copy_context()
        if self._state != _PENDING:
            self._loop.call_soon(fn, self, context=context)
        else:
            self._callbacks.append((fn, context))

    def remove_done_callback(self, fn: Callback) -> int:
        """Forget every registration of ``fn``; how many there were."""
        kept = [(f, c) for f, c in self._callbacks if f != fn]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def cancel(self, msg: Any = None) -> bool:
        """Cancel the wait (the reply, if it comes, is dropped); False when already done."""
        if self._state != _PENDING:
            return False
        self._state = _CANCELLED
        self._cancel_message = msg
        self._finish(False)
        return True

    def set_result(self, result: T, *, now: bool = False) -> None:
        """Resolve with the reply; ``now``: run the callbacks at once where allowed."""
        self._settle(result, None, now)

    def set_exception(self, exception: BaseException, *, now: bool = False) -> None:
        """Fail with ``exception``; ``now`` as in :meth:`set_result`."""
        self._settle(None, exception, now)

    def _make_cancelled_error(self) -> asyncio.CancelledError:
        """The error of a cancelled wait (``asyncio.gather`` asks a cancelled child for it by
        this name)."""
        return asyncio.CancelledError(self._cancel_message)

    def __await__(self) -> Generator[Any, None, T]:
        if self._state == _PENDING:
            self._asyncio_future_blocking = True
            yield self  # the task registers its wake-up and suspends
        if self._state == _PENDING:
            raise RuntimeError("await wasn't used with future")
        return self.result()

    __iter__ = __await__

    # -- waking -------------------------------------------------------------------------------

    def _settle(self, result: Any, exception: BaseException | None, now: bool) -> None:
        if self._state != _PENDING:
            raise asyncio.InvalidStateError("the waiter is done already")
        self._result = result
        self._exception = exception
        self._state = _FINISHED
        self._finish(now)

    def _finish(self, now: bool) -> None:
        callbacks, self._callbacks = self._callbacks, []
        if not callbacks:
            return
        loop = self._loop
        if now and _current_task(loop) is None:
            for fn, context in callbacks:
                try:
                    context.run(fn, self)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    loop.call_exception_handler({
                        "message": f"Exception in callback {fn!r} of a worker reply",
                        "exception": exc, "future": self})
            return
        for fn, context in callbacks:
            loop.call_soon(fn, self, context=context)
