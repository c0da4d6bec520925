"""`conference.batching.Batches` and `ThreadBatches`: the first item goes at once, those
arriving meanwhile go together in the next batch, and every caller gets its own outcome, the
batch's failure, or a cancellation when the loop gives up on the batch. A `ThreadBatches`
thread takes the next batch itself, without the event loop."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conference.batching import Batches, ThreadBatches

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


async def cancel_the_drain(callers: list[asyncio.Future[int]]) -> None:
    """Cancel the one drain out (as a closing loop does): every caller is cancelled."""
    await settle()
    drains = [t for t in asyncio.all_tasks() if "_drain" in repr(t.get_coro())]
    assert len(drains) == 1
    drains[0].cancel()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)


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
    await cancel_the_drain(callers)
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


class ThreadTrips:
    """A synchronous ``run`` for `ThreadBatches`, on a real thread: records each batch and
    the thread it ran on, and waits in the thread until the test lets each batch finish."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: list[int] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Semaphore(0)

    def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        self.threads.append(threading.get_ident())
        self.entered.release()
        assert self.release.acquire(timeout=5)
        if -99 in items:
            raise ConnectionError("gone")
        return [ValueError(n) if n < 0 else n * 10 for n in items]


def on_a_thread(executor: ThreadPoolExecutor):
    """The ``offload`` of a test: the function runs on ``executor``'s threads."""
    def offload(func):
        async def call(*args):
            return await asyncio.get_running_loop().run_in_executor(executor, func, *args)
        return call
    return offload


@pytest.fixture
def executor():
    pool = ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


async def entered(trips: ThreadTrips) -> None:
    assert await asyncio.to_thread(trips.entered.acquire, timeout=5)


async def test_the_thread_runs_the_next_batch_without_the_loop(executor) -> None:
    """The first item goes alone; those arriving while it is on the thread are taken by the
    thread as soon as it is done, while the event loop is still blocked: the loop is not
    needed between two batches. Each caller gets its own outcome."""
    trips = ThreadTrips()
    between: list[int] = []
    batches: ThreadBatches[int, int] = ThreadBatches(
        trips, offload=on_a_thread(executor), max_size=3,
        between=lambda: between.append(len(trips.batches)))
    first = asyncio.ensure_future(batches.submit(1))
    await entered(trips)
    rest = [asyncio.ensure_future(batches.submit(n)) for n in (2, -3, 4, 5)]
    await settle()
    assert trips.batches == [[1]]
    trips.release.release()
    # the loop blocked (no await): the thread still goes on with the next batch
    assert trips.entered.acquire(timeout=5)
    assert trips.batches == [[1], [2, -3, 4]]
    for _ in range(2):
        trips.release.release()
    assert await first == 10
    outcomes = await asyncio.gather(*rest, return_exceptions=True)
    assert outcomes[0] == 20 and isinstance(outcomes[1], ValueError) and outcomes[2:] == [40, 50]
    assert trips.batches == [[1], [2, -3, 4], [5]]
    assert len(set(trips.threads)) == 1 and between == [1, 2]  # one trip, tidied between


async def test_a_failed_batch_reaches_its_callers_and_the_trip_goes_on(executor) -> None:
    trips = ThreadTrips()
    batches: ThreadBatches[int, int] = ThreadBatches(trips, offload=on_a_thread(executor),
                                                     max_size=10)
    first = asyncio.ensure_future(batches.submit(-99))
    await entered(trips)
    later = [asyncio.ensure_future(batches.submit(n)) for n in (1, 2)]
    await settle()
    for _ in range(2):
        trips.release.release()
    with pytest.raises(ConnectionError):
        await first
    assert await asyncio.gather(*later) == [10, 20]


async def test_after_max_turns_the_drain_sends_the_thread_again(executor) -> None:
    """One batch a trip: what piled up goes in the next trip (other work queued for the
    thread can go between), and nothing is lost."""
    trips = ThreadTrips()
    batches: ThreadBatches[int, int] = ThreadBatches(trips, offload=on_a_thread(executor),
                                                     max_size=2, max_turns=1)
    callers = [asyncio.ensure_future(batches.submit(1))]
    await entered(trips)
    callers += [asyncio.ensure_future(batches.submit(n)) for n in (2, 3, 4)]
    await settle()
    for _ in range(3):
        trips.release.release()
    assert await asyncio.gather(*callers) == [10, 20, 30, 40]
    assert trips.batches == [[1], [2, 3], [4]]


async def test_two_trips_out_at_once_and_the_waiting_go_with_the_first_done(executor) -> None:
    trips = ThreadTrips()
    batches: ThreadBatches[int, int] = ThreadBatches(trips, offload=on_a_thread(executor),
                                                     max_size=10, concurrency=2)
    first = asyncio.ensure_future(batches.submit(1))
    await entered(trips)
    second = asyncio.ensure_future(batches.submit(2))
    await entered(trips)
    third = [asyncio.ensure_future(batches.submit(n)) for n in (3, 4)]
    await settle()
    assert sorted(map(tuple, trips.batches)) == [(1,), (2,)]
    for _ in range(3):
        trips.release.release()
    assert [await first, await second, *await asyncio.gather(*third)] == [10, 20, 30, 40]
    assert trips.batches[2] == [3, 4] and batches.concurrency() == 2


async def test_a_trip_that_never_starts_fails_its_callers_and_the_next_items_go(
        executor) -> None:
    """The thread refused (its executor shut down): the batch's callers and those waiting get
    the error; a drain cancelled before its thread began cancels them; either way the next
    item starts a trip again."""
    trips = ThreadTrips()
    refusing = ThreadPoolExecutor(max_workers=1)
    refusing.shutdown()
    offload = on_a_thread(refusing)
    batches: ThreadBatches[int, int] = ThreadBatches(
        trips, offload=lambda func: offload(func), max_size=10)
    outcomes = await asyncio.gather(*(batches.submit(n) for n in (1, 2)), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes) and trips.batches == []
    offload = on_a_thread(executor)

    blocker = threading.Event()
    executor.submit(blocker.wait, 5)
    executor.submit(blocker.wait, 5)  # both threads busy: the trip queues
    callers = [asyncio.ensure_future(batches.submit(n)) for n in (3, 4)]
    await cancel_the_drain(callers)
    blocker.set()
    trips.release.release()
    assert await batches.submit(5) == 50 and trips.batches == [[5]]
