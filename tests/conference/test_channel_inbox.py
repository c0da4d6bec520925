"""A consumer's channel attached to its layer (`conference.channel_inbox`,
`conference.channels_dispatch`): its messages reach the dispatch loop in order without a
receive task per message, under the layer's capacity rules, on both layers; the loop detaches
however it ends."""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import uuid
from typing import Any

import pytest
from channels.exceptions import ChannelFull

from conference import channels_dispatch
from conference.channel_layers import MISSED, InMemoryChannelLayer, RedisChannelLayer
from tests.support.waiting import eventually

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


class _Socket:
    """A socket's ASGI source: a queue the test fills."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(self) -> dict[str, Any]:
        return await self.queue.get()


class _Reader:
    """The dispatch loop of one consumer over a socket and a layer channel; records what it
    dispatched, and holds a message named ``slow`` until released."""

    def __init__(self, layer: Any, channel: str) -> None:
        self.layer, self.channel = layer, channel
        self.socket = _Socket()
        self.seen: list[Any] = []
        self.release = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _dispatch(self, message: dict[str, Any]) -> None:
        self.seen.append(message.get("n", message["type"]))
        if message.get("n") == "slow":
            await self.release.wait()
        if message.get("n") == "stop":
            raise _Stop

    def start(self) -> None:
        sources = [self.socket.receive, functools.partial(self.layer.receive, self.channel)]
        self.task = asyncio.ensure_future(
            channels_dispatch.await_many_dispatch(sources, self._dispatch))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


class _Stop(Exception):
    pass


async def _reading(layer: Any) -> _Reader:
    """A new channel in the group ``meeting.g``, its dispatch loop started and attached."""
    channel = await layer.new_channel()
    await layer.group_add("meeting.g", channel)
    reader = _Reader(layer, channel)
    reader.start()
    await asyncio.sleep(0)
    return reader


def _no_receive(layer: Any) -> None:
    """Make the layer's receive fail: an attached channel must never be read through it."""

    async def receive(channel: str) -> dict[str, Any]:
        raise AssertionError(f"receive({channel}) called for an attached channel")

    layer.receive = receive


async def test_in_memory_messages_arrive_in_order_without_receive_tasks():
    """Group messages and sends to the channel, some while the consumer waits and some while
    it is busy with a slow message, are dispatched once each in the order they were sent;
    the layer's receive is never called; messages queued before the loop started come
    first."""
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("meeting.g", channel)
    await layer.send(channel, {"type": "meeting.event", "n": 0})  # before the loop
    reader = _Reader(layer, channel)
    real_receive = layer.receive
    reader.start()
    await asyncio.sleep(0)
    _no_receive(layer)
    try:
        await layer.group_send("meeting.g", {"type": "meeting.event", "n": 1})
        await eventually(lambda: reader.seen == [0, 1], timeout=5, what="the first two")
        await layer.send(channel, {"type": "meeting.event", "n": "slow"})
        await eventually(lambda: "slow" in reader.seen, timeout=5, what="the slow one")
        for n in (2, 3, 4):  # the consumer is busy: they wait in the inbox
            await layer.group_send("meeting.g", {"type": "meeting.event", "n": n})
        reader.socket.queue.put_nowait({"type": "websocket.receive", "n": "frame"})
        reader.release.set()
        await eventually(lambda: len(reader.seen) == 7, timeout=5, what="every message")
        # The socket's frame goes first once the consumer is free (Channels' source order).
        assert reader.seen == [0, 1, "slow", "frame", 2, 3, 4]
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(reader.seen) == 7  # nothing twice
    finally:
        await reader.stop()
    layer.receive = real_receive
    assert channel not in layer._attached  # noqa: SLF001 - detached at the end


async def test_in_memory_full_inbox_refuses_and_the_consumer_is_told_it_missed_some():
    """At the channel's capacity a send raises ChannelFull and a group message is dropped;
    the consumer gets one ``channel.missed`` notice after the messages still queued."""
    layer = InMemoryChannelLayer(capacity=2)
    reader = await _reading(layer)
    channel = reader.channel
    try:
        await layer.send(channel, {"type": "meeting.event", "n": "slow"})
        await eventually(lambda: reader.seen == ["slow"], timeout=5, what="the slow one")
        await layer.send(channel, {"type": "meeting.event", "n": 1})
        await layer.group_send("meeting.g", {"type": "meeting.event", "n": 2})
        with pytest.raises(ChannelFull):
            await layer.send(channel, {"type": "meeting.event", "n": 3})
        await layer.group_send("meeting.g", {"type": "meeting.event", "n": 4})
        reader.release.set()
        await eventually(lambda: len(reader.seen) == 4, timeout=5, what="kept and notice")
        assert reader.seen == ["slow", 1, 2, MISSED]
    finally:
        await reader.stop()


async def test_a_delivery_from_another_thread_wakes_the_consumer():
    """Sync code elsewhere (its own loop in another thread) sending to the channel wakes the
    consumer's loop."""
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    reader = _Reader(layer, channel)
    reader.start()
    await asyncio.sleep(0)
    try:
        thread = threading.Thread(target=lambda: asyncio.run(
            layer.send(channel, {"type": "meeting.event", "n": "thread"})))
        thread.start()
        await asyncio.to_thread(thread.join)
        await eventually(lambda: reader.seen == ["thread"], timeout=5, what="the message")
    finally:
        await reader.stop()


async def test_an_exception_from_dispatch_detaches_and_cancels_the_socket_read():
    """``dispatch`` raising (Channels' StopConsumer) ends the loop with it: the channel is
    detached (later messages go nowhere near the dead consumer) and the socket's read is
    cancelled."""
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    reader = _Reader(layer, channel)
    reader.start()
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "meeting.event", "n": "stop"})
    assert reader.task is not None
    with pytest.raises(_Stop):
        await asyncio.wait_for(reader.task, 5)
    assert channel not in layer._attached  # noqa: SLF001
    assert not reader.socket.queue._getters  # noqa: SLF001 - no read left waiting


async def test_redis_local_and_remote_messages_reach_the_attached_channel():
    """On Redis: a group message from this process (delivered in process) and one from
    another process (through Redis and the pump) both reach the attached consumer, without
    its receive; the pump runs while the channel is attached and stops after."""
    prefix = f"conference-test-inbox-{uuid.uuid4().hex[:10]}"
    here = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4)
    there = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4)
    try:
        reader = await _reading(here)
        channel = reader.channel
        _no_receive(here)
        try:
            assert here._pump is not None and not here._pump.done()  # noqa: SLF001
            await here.group_send("meeting.g", {"type": "meeting.event", "n": "local"})
            await there.group_send("meeting.g", {"type": "meeting.event", "n": "remote"})
            await eventually(lambda: reader.seen == ["local", "remote"], timeout=5,
                             what="both messages")
        finally:
            await reader.stop()
        assert here._pump is None  # noqa: SLF001 - nobody reads: the pump stopped
        assert channel not in here._attached  # noqa: SLF001
    finally:
        await here.flush()
        await there.flush()


async def test_redis_full_inbox_drops_the_oldest_and_tells_the_consumer():
    """On Redis the oldest message gives way (channels-redis's rule) and the consumer gets a
    ``channel.missed`` notice after the messages still queued; a channel that is not this
    process's is not attached (the loop reads it with receive, as Channels does)."""
    prefix = f"conference-test-inbox-{uuid.uuid4().hex[:10]}"
    layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4,
                              capacity=2)
    try:
        reader = await _reading(layer)
        try:
            await layer.send(reader.channel, {"type": "meeting.event", "n": "slow"})
            await eventually(lambda: reader.seen == ["slow"], timeout=5, what="slow one")
            for n in (1, 2, 3):
                await layer.group_send("meeting.g", {"type": "meeting.event", "n": n})
            reader.release.set()
            await eventually(lambda: len(reader.seen) == 4, timeout=5, what="kept + notice")
            assert reader.seen == ["slow", 2, 3, MISSED]
        finally:
            await reader.stop()
        assert layer.attach("specific.elsewhere", lambda: None) is None
    finally:
        await layer.flush()


async def test_a_layer_that_cannot_attach_is_read_as_channels_reads_it():
    """A source that is not a layer's receive, or a layer without ``attach``, keeps the
    read-task loop: messages still arrive."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    class PlainLayer:
        async def receive(self, channel: str) -> dict[str, Any]:
            return await queue.get()

    reader = _Reader(PlainLayer(), "specific.x")
    reader.start()
    try:
        queue.put_nowait({"type": "meeting.event", "n": "plain"})
        await eventually(lambda: reader.seen == ["plain"], timeout=5, what="the message")
    finally:
        await reader.stop()


async def test_redis_a_message_that_cannot_be_read_does_not_stop_the_pump():
    """A message from another process that cannot be read (deserialising it raises) is
    skipped and logged; the pump goes on, and the attached consumer gets the next message
    (nobody's receive would start the pump again: attached channels have none)."""
    prefix = f"conference-test-inbox-{uuid.uuid4().hex[:10]}"
    here = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4)
    there = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, max_connections=4)
    real = here.deserialize
    calls: list[bytes] = []

    def deserialize(data: bytes) -> Any:
        calls.append(data)
        if len(calls) == 1:
            raise ValueError("malformed")
        return real(data)

    here.deserialize = deserialize
    try:
        reader = await _reading(here)
        try:
            await there.group_send("meeting.g", {"type": "meeting.event", "n": "lost"})
            await eventually(lambda: calls, timeout=5, what="the bad message read")
            await there.group_send("meeting.g", {"type": "meeting.event", "n": "next"})
            await eventually(lambda: reader.seen == ["next"], timeout=5, what="the next one")
        finally:
            await reader.stop()
    finally:
        await here.flush()
        await there.flush()
