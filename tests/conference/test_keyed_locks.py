"""`conference.keyed_locks.KeyedLocks`: one holder per key in arrival order, other keys free,
and no lock kept for a key nobody holds or waits for."""

from __future__ import annotations

import asyncio

import pytest

from conference.keyed_locks import KeyedLocks


async def test_one_holder_per_key_in_order_and_other_keys_free():
    locks = KeyedLocks()
    order: list[str] = []
    release = asyncio.Event()

    async def hold(key: str, name: str, wait: bool = False) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            if wait:
                await release.wait()
            order.append(f"{name} out")

    first = asyncio.create_task(hold("a", "first", wait=True))
    await asyncio.sleep(0)
    second = asyncio.create_task(hold("a", "second"))
    other = asyncio.create_task(hold("b", "other"))
    await other  # another key does not wait for "a"
    assert order == ["first in", "other in", "other out"]
    assert len(locks) == 1
    release.set()
    await asyncio.gather(first, second)
    assert order[3:] == ["first out", "second in", "second out"]
    assert len(locks) == 0


async def test_a_failing_holder_lets_the_next_one_in_and_nothing_is_kept():
    locks = KeyedLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold("a"):
            raise RuntimeError("boom")
    async with locks.hold("a"):
        assert len(locks) == 1
    assert len(locks) == 0
