"""A node's loops end when cancelled, even after a Redis call swallowed the cancellation
(redis-py 8 may): `conference.channel_layers.raise_if_cancelled` and
`rtc.cluster.node.cancel_for_good`."""

from __future__ import annotations

import asyncio

import pytest

from conference.channel_layers import raise_if_cancelled
from rtc.cluster.node import cancel_for_good


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again() -> None:
    """The first cancel is swallowed (as redis-py does during a command); the task goes on
    waiting; cancel_for_good cancels it again and returns once it ended."""
    swallowed = asyncio.Event()

    async def loop() -> None:
        try:
            await asyncio.Event().wait()  # a call that never returns by itself
        except asyncio.CancelledError:
            swallowed.set()  # swallowed, as a Redis command may
        await asyncio.Event().wait()

    task = asyncio.get_running_loop().create_task(loop())
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await cancel_for_good([task])
    assert swallowed.is_set() and task.cancelled()


async def test_a_loop_that_checks_after_each_call_ends_at_the_first_cancel() -> None:
    """A loop whose call returns normally after a cancel stops at raise_if_cancelled."""
    calls = 0

    async def loop() -> None:
        nonlocal calls
        while True:
            calls += 1
            try:
                await asyncio.Event().wait()  # a call that never returns by itself
            except asyncio.CancelledError:
                pass  # the call "returned" although its task was cancelled
            raise_if_cancelled()

    task = asyncio.get_running_loop().create_task(loop())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await task
    assert calls == 1
