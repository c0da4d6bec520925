"""The process clock (`conference.clock`): the system clock is the real one, and the manual
clock that tests use runs sleeps and timers in time order when advanced, never before."""

from __future__ import annotations

import asyncio
import time

from conference import clock
from conference.clock import SYSTEM, ManualClock, use_clock


async def test_system_clock_is_the_real_clock() -> None:
    """The production clock reads time.monotonic and schedules on the running loop."""
    before = time.monotonic()
    assert before <= SYSTEM.monotonic() <= time.monotonic()
    fired = asyncio.Event()
    timer = SYSTEM.call_later(0, fired.set)
    assert isinstance(timer, asyncio.TimerHandle)
    await asyncio.wait_for(fired.wait(), 1)
    await SYSTEM.sleep(0)


async def test_manual_timers_fire_in_order_only_when_advanced() -> None:
    """Timers and sleeps wait for advance(); each runs at its own time, soonest first, and a
    cancelled one never runs."""
    manual = ManualClock(start=50.0)
    fired: list[tuple[str, float]] = []
    manual.call_later(2, lambda: fired.append(("b", manual.monotonic())))
    manual.call_later(1, lambda: fired.append(("a", manual.monotonic())))
    cancelled = manual.call_later(1.5, lambda: fired.append(("never", manual.monotonic())))
    cancelled.cancel()
    assert manual.pending() == [51.0, 52.0]
    assert await manual.advance(0.5) == 0 and fired == []
    assert await manual.advance(2) == 2
    assert fired == [("a", 51.0), ("b", 52.0)]
    assert manual.monotonic() == 52.5 and manual.pending() == []


async def test_manual_sleep_wakes_at_its_time_and_cancels_cleanly() -> None:
    """A task sleeping on the manual clock wakes when time passes its deadline; a cancelled
    sleep leaves no timer behind."""
    manual = ManualClock()
    woke: list[float] = []

    async def sleeper() -> None:
        await manual.sleep(30)
        woke.append(manual.monotonic())

    task = asyncio.create_task(sleeper())
    await manual.wait_scheduled()
    await manual.advance(29.9)
    assert woke == [] and not task.done()
    await manual.advance(0.1)
    await asyncio.wait_for(task, 1)
    assert woke == [1030.0]

    other = asyncio.create_task(manual.sleep(5))
    await manual.wait_scheduled()
    other.cancel()
    await asyncio.gather(other, return_exceptions=True)
    assert manual.pending() == []


async def test_use_clock_swaps_the_process_clock_and_restores_it() -> None:
    """use_clock installs a clock for everything that reads clock.current(), then puts the
    previous one back, also when the block fails."""
    manual = ManualClock()
    assert clock.current() is SYSTEM
    try:
        with use_clock(manual):
            assert clock.current() is manual
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert clock.current() is SYSTEM


async def test_manual_clock_fixture_is_installed(manual_clock: ManualClock) -> None:
    """The manual_clock fixture makes the manual clock the process's clock."""
    assert clock.current() is manual_clock
    start = clock.current().monotonic()
    await manual_clock.advance(3600)
    assert clock.current().monotonic() - start == 3600
