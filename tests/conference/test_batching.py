"""`conference.batching.Batches`: the first item goes at once, those arriving meanwhile go
together in the next batch, and every caller gets its own outcome, the batch's failure, or a
cancellation when the loop gives up on the batch."""

from __future__ import annotations

import asyncio

import pytest

from conference.batching import Batches

pytestmark = pytest.mark.unit


class Trips:
    """A ``run`` that records each batch and waits until the test lets it finish."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        await self.release.wait()
        return [ValueError(n) if n < 0 else n * 10 for n in items]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_items_arriving_while_a_batch_is_out_go_together_each_with_its_outcome() -> None:
    trips = Trips()
    batches: Batches[int, int] = Batches(trips, max_size=3)
    first = asyncio.ensure_future(batches.submit(1))
    await settle()
    rest = [asyncio.ensure_future(batches.submit(n)) for n in (2, -3, 4, 5)]
    await settle()
    assert trips.batches == [[1]]
    trips.release.set()
    assert await first == 10
    outcomes = await asyncio.gather(*rest, return_exceptions=True)
    assert outcomes[0] == 20 and isinstance(outcomes[1], ValueError) and outcomes[2:] == [40, 50]
    assert trips.batches == [[1], [2, -3, 4], [5]]


async def test_a_failed_run_reaches_every_caller_of_its_batch() -> None:
    async def broken(items: list[int]) -> list[int | Exception]:
        raise ConnectionError("gone")

    failing: Batches[int, int] = Batches(broken, max_size=10)
    outcomes = await asyncio.gather(*(failing.submit(n) for n in range(3)),
                                    return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)


async def test_a_cancelled_batch_cancels_its_callers_and_those_waiting() -> None:
    trips = Trips()
    batches: Batches[int, int] = Batches(trips, max_size=1)
    callers = [asyncio.ensure_future(batches.submit(n)) for n in (1, 2)]
    await settle()
    drains = [t for t in asyncio.all_tasks() if "_drain" in repr(t.get_coro())]
    assert len(drains) == 1
    drains[0].cancel()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    trips.release.set()
    assert await batches.submit(3) == 30  # the next item starts a batch again


async def test_with_a_concurrency_of_two_a_second_batch_goes_out_while_the_first_is_out() -> None:
    """Two batches out at once: the items arriving during the first trip do not wait for it;
    those arriving while both are out wait for whichever finishes first."""
    trips = Trips()
    batches: Batches[int, int] = Batches(trips, max_size=10, concurrency=lambda: 2)
    first = asyncio.ensure_future(batches.submit(1))
    await settle()
    second = [asyncio.ensure_future(batches.submit(n)) for n in (2, 3)]
    await settle()
    third = [asyncio.ensure_future(batches.submit(n)) for n in (4, 5)]
    await settle()
    assert trips.batches == [[1], [2, 3]]
    trips.release.set()
    assert await first == 10
    assert await asyncio.gather(*second, *third) == [20, 30, 40, 50]
    assert trips.batches == [[1], [2, 3], [4, 5]]
    assert batches.concurrency() == 2


async def test_a_cancelled_batch_leaves_the_waiting_items_to_the_batch_still_out() -> None:
    """One of two batches cancelled: its callers are cancelled, the items waiting go out with
    the other batch's next trip."""
    trips = Trips()
    batches: Batches[int, int] = Batches(trips, max_size=1, concurrency=2)
    callers = [asyncio.ensure_future(batches.submit(n)) for n in (1, 2, 3)]
    await settle()
    drains = [t for t in asyncio.all_tasks() if "_drain" in repr(t.get_coro())]
    assert len(drains) == 2 and trips.batches == [[1], [2]]
    drains[0].cancel()
    await settle()
    trips.release.set()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    cancelled = [n for n, o in zip((1, 2), outcomes, strict=False)
                 if isinstance(o, asyncio.CancelledError)]
    assert len(cancelled) == 1  # the cancelled drain's item; the other's and 3 went out
    assert [o for o in outcomes if not isinstance(o, asyncio.CancelledError)] == [
        n * 10 for n in (1, 2, 3) if n not in cancelled]
