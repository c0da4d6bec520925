"""`conference.channels_dispatch`: Channels' dispatch loop without ``asyncio.wait`` delivers
what Channels' own delivers, in the same order, and ends as it ends."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest
from channels import consumer as channels_consumer
from channels.utils import await_many_dispatch as channels_await_many_dispatch

from conference import channels_dispatch
from tests.support.waiting import eventually


async def _deliveries(loop_function: Any, script: list[tuple[int, Any]]) -> list[Any]:
    """Feed ``script`` ((source, message): a message to put on source 0 or 1, or ``None`` to
    let the loop run a turn) to two queues read by ``loop_function``; what it dispatched."""
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(), asyncio.Queue()]
    seen: list[Any] = []
    fed = asyncio.Event()

    async def dispatch(message: Any) -> None:
        seen.append(message)
        if message == "slow":
            await fed.wait()  # slow: the rest of the script is put meanwhile

    task = asyncio.ensure_future(loop_function([queues[0].get, queues[1].get], dispatch))
    for source, message in script:
        if message is None:
            await asyncio.sleep(0)
        else:
            queues[source].put_nowait(message)
    fed.set()
    sent = sum(1 for _, message in script if message is not None)
    await eventually(lambda: len(seen) >= sent, timeout=5, what="every message dispatched")
    for _ in range(20):  # turns in which a message dispatched twice would show
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return seen


async def test_the_same_deliveries_in_the_same_order_as_channels():
    """For one script of messages on two sources (bursts on one, interleaved, a slow dispatch
    during which both sources fill), the lean loop dispatches exactly what Channels' loop
    dispatches, in the same order."""
    script: list[tuple[int, Any]] = [(0, "a1"), (1, "b1"), (0, None), (0, "a2"), (0, "a3"),
                                     (1, "b2"), (0, None), (0, "slow"), (1, "b3"), (0, "a4"),
                                     (0, None), (1, "b4"), (1, "b5"), (0, "a5")]
    ours = await _deliveries(channels_dispatch.await_many_dispatch, script)
    theirs = await _deliveries(channels_await_many_dispatch, script)
    assert ours == theirs
    assert sorted(ours) == sorted(m for _, m in script if m is not None)


async def test_a_failing_source_ends_the_loop_and_cancels_the_other_read():
    """A source whose read raises ends the loop with that exception, and the other source's
    pending read is cancelled (nothing left running)."""
    other_read_cancelled = asyncio.Event()

    async def failing() -> Any:
        await asyncio.sleep(0)
        raise RuntimeError("source broke")

    async def waiting() -> Any:
        try:
            await asyncio.Event().wait()  # a source with nothing to read
        except asyncio.CancelledError:
            other_read_cancelled.set()
            raise

    async def dispatch(message: Any) -> None:
        raise AssertionError("nothing to dispatch")

    with pytest.raises(RuntimeError, match="source broke"):
        await channels_dispatch.await_many_dispatch([waiting, failing], dispatch)
    assert other_read_cancelled.is_set()


async def test_an_exception_from_dispatch_ends_the_loop_and_cancels_the_reads():
    """``dispatch`` raising (Channels' StopConsumer, say) ends the loop with it, and both
    sources' next reads are cancelled."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    other: asyncio.Queue[Any] = asyncio.Queue()
    queue.put_nowait("stop")

    class Stop(Exception):
        pass

    async def dispatch(message: Any) -> None:
        raise Stop(message)

    with pytest.raises(Stop):
        await channels_dispatch.await_many_dispatch([queue.get, other.get], dispatch)
    assert not queue._getters and not other._getters  # noqa: SLF001 - no read left waiting


def test_install_makes_channels_consumers_use_it():
    """After ``install`` (conference.asgi runs it), Channels' consumers look up the lean loop."""
    channels_dispatch.install()
    assert channels_consumer.await_many_dispatch is channels_dispatch.await_many_dispatch


async def test_frames_queued_on_the_socket_are_dispatched_without_a_read_task_each():
    """An attached socket whose receive is a queue's ``get`` (daphne's): frames already queued
    are dispatched in the same turn, in order, alternating with the channel's messages, with
    no read task per frame; a read task waits only when both are empty, and picks up the
    next frame."""
    from conference.channel_layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    frames: asyncio.Queue[Any] = asyncio.Queue()
    for n in range(3):
        frames.put_nowait(f"frame{n}")
    await layer.send(channel, {"type": "event", "n": 0})
    await layer.send(channel, {"type": "event", "n": 1})
    seen: list[Any] = []
    tasks_before = len(asyncio.all_tasks())
    reads_started: list[int] = []

    async def dispatch(message: Any) -> None:
        seen.append(message if isinstance(message, str) else message["n"])
        reads_started.append(len(asyncio.all_tasks()) - tasks_before)

    loop_task = asyncio.ensure_future(channels_dispatch.await_many_dispatch(
        [frames.get, functools.partial(layer.receive, channel)], dispatch))
    await asyncio.sleep(0)
    assert seen == ["frame0", 0, "frame1", 1, "frame2"]  # one turn, no read in between
    assert max(reads_started) == 1  # the dispatch loop's own task, no read task
    frames.put_nowait("frame3")  # the waiting read takes it
    await eventually(lambda: seen[-1] == "frame3", timeout=5, what="the next frame")
    await layer.send(channel, {"type": "event", "n": 2})
    await eventually(lambda: seen[-1] == 2, timeout=5, what="the next event")
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    assert not frames._getters  # noqa: SLF001 - the waiting read was cancelled
