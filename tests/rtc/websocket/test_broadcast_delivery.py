"""How meeting events reach the group: from a consumer's database thread without holding it,
in commit order; and the embedded layer's expiry sweep at a constant cost."""

from __future__ import annotations

import asyncio
import contextvars
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from conference.channel_layers import InMemoryChannelLayer
from conference.db_threads import bind_calling_loop, calling_loop, db_call
from meetings import events
from tests.support.layers import overflowed

pytestmark = pytest.mark.django_db(transaction=True)


async def test_events_from_a_database_thread_arrive_in_commit_order(meeting, monkeypatch):
    """Broadcasts sent from a consumer's database thread (`db_call`) do not hold that thread
    while the layer delivers them (here a layer that delivers nothing until the thread has
    returned), and arrive in the order sent."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(events.meeting_group_name(meeting.id), channel)
    original = layer.group_send
    delivering = asyncio.Event()

    async def held_group_send(group, message):
        await delivering.wait()
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", held_group_send)

    def send_many() -> float:
        started = time.monotonic()
        for n in range(30):
            events._send(meeting.id, events.group_message("meeting.updated", {"n": n}))
        return time.monotonic() - started

    try:
        took = await asyncio.wait_for(db_call(send_many)(), 5)
    finally:
        delivering.set()
    assert took < 0.3, f"the database thread waited {took:.2f}s for deliveries"
    received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(30)]
    assert [m["data"]["n"] for m in received] == list(range(30))


async def test_sync_work_knows_the_loop_that_handed_it_over():
    """A thread doing sync work for a task that bound its loop (the ASGI application does for
    each connection, `db_call` for each call) names that loop, through Channels'
    `database_sync_to_async` too; work handed over by a task that did not, none."""
    loop = asyncio.get_running_loop()

    async def bound() -> object:
        bind_calling_loop()
        return await database_sync_to_async(calling_loop)()

    async def unbound() -> object:
        return await database_sync_to_async(calling_loop)()

    assert await asyncio.create_task(bound(), context=contextvars.Context()) is loop
    assert await asyncio.create_task(unbound(), context=contextvars.Context()) is None


def test_events_from_plain_sync_code_are_sent_before_returning(meeting):
    """Outside any event loop (management commands, the admin), the send completes at once."""
    layer = get_channel_layer()
    from asgiref.sync import async_to_sync

    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.meeting_group_name(meeting.id), channel)
    events._send(meeting.id, events.group_message("meeting.updated", {"n": 1}))
    message = async_to_sync(layer.receive)(channel)
    assert message["data"] == {"n": 1}


async def test_in_memory_layer_sweeps_expired_messages_at_most_once_a_second(monkeypatch):
    """Many sends cost one sweep a second, and expired messages still go."""
    layer = InMemoryChannelLayer(expiry=60)
    sweeps: list[float] = []
    base = type(layer).__mro__[1]._clean_expired
    monkeypatch.setattr(type(layer).__mro__[1], "_clean_expired",
                        lambda self: (sweeps.append(time.monotonic()), base(self))[1])
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    for n in range(200):
        await layer.group_send("g", {"type": "x", "n": n % 50})
        await layer.receive(channel)
    assert len(sweeps) == 1
    # A message past its expiry is dropped by the next sweep, a second later.
    layer.expiry = 0
    await layer.send(channel, {"type": "stale"})
    layer._next_sweep = 0.0
    layer._clean_expired()
    assert channel not in layer.channels
    assert len(sweeps) == 2


async def test_frames_without_database_work_do_not_queue_on_the_database_thread(
        meeting, host_user, ws_join, ws_request, monkeypatch):
    """A `ping` frame runs no database job: the consumer skips Channels' per-message
    close_old_connections (its ORM calls clean up around themselves)."""
    import channels.consumer

    calls: list[int] = []

    async def counting() -> None:
        calls.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counting)
    communicator = await ws_join(meeting.id, host_user)
    for n in range(5):
        reply = await ws_request(communicator, {"type": "ping", "requestId": f"p{n}"})
        assert reply["requestId"] == f"p{n}" and "error" not in reply
    assert calls == []
    await communicator.disconnect()


async def test_in_memory_layer_tells_a_channel_that_lost_messages():
    """Past its capacity a channel loses what is sent to it (Channels drops it); once it has
    room again it gets one channel.missed with the count, after what it still held."""
    from conference.channel_layers import MISSED

    layer = InMemoryChannelLayer(capacity=5)
    channel, received = await overflowed(layer, "g", "x")
    assert [m.get("n") for m in received[:5]] == [0, 1, 2, 3, 4]
    assert received[5] == {"type": MISSED, "count": 3}
    await layer.group_send("g", {"type": "x", "n": 9})
    assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "x", "n": 9}
    assert not layer._missed.counts


async def test_a_failed_broadcast_is_logged_and_the_next_ones_still_go(meeting, monkeypatch,
                                                                      caplog):
    """One broadcast of a run failing in the layer is logged; the broadcasts after it in the
    same run are still delivered, in order."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(events.meeting_group_name(meeting.id), channel)
    original = layer.group_send

    async def failing_once(group, message):
        if message["data"].get("n") == 1:
            raise ConnectionError("layer down")
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", failing_once)
    monkeypatch.setattr(layer, "group_send_soon", failing_once, raising=False)

    def send_three() -> None:
        for n in range(3):
            events._send(meeting.id, events.group_message("meeting.updated", {"n": n}))

    await db_call(send_three)()
    received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(2)]
    assert [m["data"]["n"] for m in received] == [0, 2]
    assert "broadcast of meeting.updated failed" in caplog.text


def test_a_broadcast_for_a_closed_loop_is_dropped_quietly(meeting):
    """A database thread handing a broadcast to a loop that has closed meanwhile: nothing
    raised, nothing left queued for that loop."""
    loop = asyncio.new_event_loop()
    sends = events._LoopSends(loop)
    loop.close()
    sends.add(meeting.id, events.meeting_group_name(meeting.id),
              events.group_message("meeting.updated", {"n": 1}))
    assert not sends.pending and not sends.draining


async def test_the_embedded_layer_leaves_the_excluded_sender_out():
    """A group message naming an ``exclude`` channel (the sender's socket) is not queued for
    it; the group's other member gets it."""
    layer = InMemoryChannelLayer()
    sender, other = await layer.new_channel(), await layer.new_channel()
    for channel in (sender, other):
        await layer.group_add("meeting.x", channel)
    await layer.group_send("meeting.x", events.group_message("meeting.updated", {"n": 1},
                                                             exclude=sender))
    assert (await asyncio.wait_for(layer.receive(other), 5))["data"] == {"n": 1}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(sender), 0.3)
