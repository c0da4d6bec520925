"""The process's clock: monotonic time, sleeps and timers that tests can move by hand.

Rate limits (token buckets), reconnect grace periods and transport connect deadlines all
measure time. Reading ``time.monotonic()`` and calling ``asyncio.sleep`` or
``loop.call_later`` directly ties them to the wall clock, so their tests had to sleep through
the real seconds (and sleeps used as timing assertions fail on a loaded machine). They read
:func:`current` instead: in production the :data:`SYSTEM` clock, which is exactly those three
calls; in tests a :class:`ManualClock` that stands still until the test calls
:meth:`ManualClock.advance`.

The clock is process-wide (:func:`use_clock` swaps it) rather than passed down, because the
objects that need it (the room service, the socket's rate buckets) are process singletons built
far from the test; objects that take a ``clock`` argument use it before the process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

__all__ = ["SYSTEM", "Clock", "ManualClock", "SystemClock", "current", "set_clock", "use_clock"]

logger = logging.getLogger(__name__)


class Clock(Protocol):
    """What time-keeping code needs: now, a pause, a callback later."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences mean anything)."""

    async def sleep(self, seconds: float) -> None:
        """Pause the calling task for ``seconds``."""

    def call_later(self, delay: float, callback: Callable[..., object],
                   *args: Any) -> asyncio.TimerHandle:
        """Run ``callback(*args)`` on the running loop after ``delay`` seconds (cancellable)."""


class SystemClock:
    """The real clock: ``time.monotonic``, ``asyncio.sleep`` and the running loop's timers."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[..., object],
                   *args: Any) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback, *args)


SYSTEM = SystemClock()
"""The production clock."""

_current: Clock = SYSTEM


def current() -> Clock:
    """The clock in use (read at each use, so a test's :func:`use_clock` reaches everything)."""
    return _current


def set_clock(clock: Clock) -> Clock:
    """Make ``clock`` the process's clock; returns the previous one."""
    global _current
    previous, _current = _current, clock
    return previous


@contextlib.contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """``with use_clock(ManualClock()) as clock:`` the process runs on ``clock`` meanwhile."""
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


class ManualClock:
    """A clock that moves only when told (tests).

    Timers are real :class:`asyncio.TimerHandle` objects (code that keeps or cancels them
    cannot tell the difference) held in a heap of this clock instead of the loop's;
    :meth:`advance` runs the ones that fall due, in order, and lets the woken tasks run until
    they wait on something else. Sleeps are timers that resolve a future.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        """The current reading of :meth:`monotonic`."""
        self._timers: list[_Timer] = []
        self._order = itertools.count()
        self._scheduled: asyncio.Event | None = None

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.call_later(seconds, _resolve, future)
        try:
            await future
        finally:
            timer.cancel()

    def call_later(self, delay: float, callback: Callable[..., object],
                   *args: Any) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        when = self.now + max(0.0, delay)
        timer = asyncio.TimerHandle(when, callback, args, loop)
        heapq.heappush(self._timers, _Timer(when, next(self._order), timer, callback, args))
        if self._scheduled is not None:
            self._scheduled.set()
        return timer

    def pending(self) -> list[float]:
        """Due times of the timers (and sleeps) not yet run nor cancelled, soonest first."""
        return sorted(t.when for t in self._timers if not t.handle.cancelled())

    async def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds``, running each timer that falls due at its own
        time, soonest first; returns how many ran. Tasks woken by a timer run until they
        wait on something else (I/O, a lock) before the next timer fires."""
        target = self.now + seconds
        ran = 0
        while self._timers and self._timers[0].when <= target:
            timer = heapq.heappop(self._timers)
            if timer.handle.cancelled():
                continue
            self.now = max(self.now, timer.when)
            try:
                timer.callback(*timer.args)
            except Exception:
                logger.exception("timer callback failed [clock:%s]", id(self))
            ran += 1
            await _let_run()
        self.now = max(self.now, target)
        await _let_run()
        return ran

    async def wait_scheduled(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait (in real time, at most ``timeout``) until ``count`` timers or sleeps are
        pending: the code under test reached the point where it measures time."""
        if self._scheduled is None:
            self._scheduled = asyncio.Event()
        async with asyncio.timeout(timeout):
            while len(self.pending()) < count:
                self._scheduled.clear()
                await self._scheduled.wait()


class _Timer(NamedTuple):
    when: float
    order: int
    """Ties broken by scheduling order, as the event loop does."""
    handle: asyncio.TimerHandle
    callback: Callable[..., object]
    args: tuple[Any, ...]


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _let_run(rounds: int = 5) -> None:
    """A few turns of the loop: callbacks woken by a timer, and what they wake in turn."""
    for _ in range(rounds):
        await asyncio.sleep(0)
