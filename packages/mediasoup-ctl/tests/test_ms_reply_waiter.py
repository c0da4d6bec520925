"""`ReplyWaiter`: asyncio's future protocol, and a reply that wakes its task in the read
callback; then the channel's order of replies and notifications against the real worker."""

from __future__ import annotations

import asyncio

import pytest

from mediasoup_ctl.reply_waiter import ReplyWaiter

LISTEN = [{"protocol": "udp", "ip": "127.0.0.1"}]
MEDIA_CODECS = [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2}]


async def _resolve_in_a_callback(now: bool) -> list[str]:
    """A task awaits a waiter that a loop callback (no task running) resolves; the order of
    what the task and the callback saw."""
    loop = asyncio.get_running_loop()
    waiter: ReplyWaiter[int] = ReplyWaiter(loop)
    seen: list[str] = []

    async def awaiting() -> None:
        seen.append(f"resumed with {await waiter}")

    task = asyncio.ensure_future(awaiting())
    await asyncio.sleep(0)  # the task now waits on the waiter

    def reply() -> None:
        waiter.set_result(7, now=now)
        seen.append("callback went on")

    loop.call_soon(reply)
    await task
    return seen


async def test_now_wakes_the_awaiting_task_inside_the_callback_that_resolves_it():
    """Resolved with ``now`` from a loop callback, the task resumes before the callback goes
    on; without it, one turn later, as an ``asyncio.Future``'s task does."""
    assert await _resolve_in_a_callback(True) == ["resumed with 7", "callback went on"]
    assert await _resolve_in_a_callback(False) == ["callback went on", "resumed with 7"]


async def test_now_inside_a_running_task_falls_back_to_call_soon():
    """A task may not step inside another task's step: resolved from a task, ``now`` wakes
    the awaiting task through ``call_soon`` (no RuntimeError), and it gets its failure."""
    waiter: ReplyWaiter[int] = ReplyWaiter(asyncio.get_running_loop())
    awaiting = asyncio.ensure_future(waiter)  # the waiter itself: it is a future
    assert awaiting is waiter
    consumer = asyncio.ensure_future(asyncio.wait_for(waiter, 5))
    await asyncio.sleep(0)
    waiter.set_exception(ValueError("refused"), now=True)  # from this test's task
    assert not consumer.done()
    with pytest.raises(ValueError, match="refused"):
        await consumer
    assert isinstance(waiter.exception(), ValueError)


async def test_cancelling_the_awaiting_task_cancels_the_wait():
    """``task.cancel()`` cancels the waiter it waits on; a late reply is refused as for a
    done future, and the waiter reports the cancellation."""
    waiter: ReplyWaiter[int] = ReplyWaiter(asyncio.get_running_loop())
    task = asyncio.ensure_future(asyncio.gather(waiter))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert waiter.cancelled() and waiter.done()
    assert waiter.cancel() is False
    with pytest.raises(asyncio.InvalidStateError):
        waiter.set_result(1)
    with pytest.raises(asyncio.CancelledError):
        waiter.result()


async def test_the_protocol_answers_like_a_future():
    """Not done: ``result`` and ``exception`` raise InvalidStateError; callbacks removed are
    not called; one added after the end runs through ``call_soon``; ``await`` gives the
    result again."""
    loop = asyncio.get_running_loop()
    waiter: ReplyWaiter[str] = ReplyWaiter(loop)
    assert waiter.get_loop() is loop and not waiter.done() and not waiter.cancelled()
    with pytest.raises(asyncio.InvalidStateError):
        waiter.result()
    with pytest.raises(asyncio.InvalidStateError):
        waiter.exception()
    called: list[str] = []

    def forgotten(_: object) -> None:
        called.append("forgotten")

    waiter.add_done_callback(forgotten)
    waiter.add_done_callback(forgotten)
    assert waiter.remove_done_callback(forgotten) == 2
    waiter.set_result("ok")
    waiter.add_done_callback(lambda w: called.append(f"late {w.result()}"))
    assert called == []
    await asyncio.sleep(0)
    assert called == ["late ok"]
    assert await waiter == "ok" and waiter.exception() is None


async def test_a_raising_callback_is_reported_and_the_next_still_runs():
    """Callbacks run at once are isolated as the loop isolates its callbacks."""
    loop = asyncio.get_running_loop()
    reported: list[BaseException] = []
    loop.set_exception_handler(lambda _, context: reported.append(context["exception"]))
    try:
        waiter: ReplyWaiter[int] = ReplyWaiter(loop)
        ran: list[int] = []

        def bad(_: object) -> None:
            raise RuntimeError("boom")

        waiter.add_done_callback(bad)
        waiter.add_done_callback(lambda w: ran.append(w.result()))
        done = loop.create_future()
        loop.call_soon(lambda: (waiter.set_result(3, now=True), done.set_result(None)))
        await done
        assert ran == [3]
        assert [str(e) for e in reported] == ["boom"]
    finally:
        loop.set_exception_handler(None)


async def test_replies_and_notifications_take_effect_in_the_order_the_worker_wrote_them(worker):
    """A producer's close notifications reach its consumers before the reply written after
    them resumes the caller, and a dump's reply resumes the caller before anything the worker
    wrote later: the awaiting code sees each in its place."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LISTEN)
    recv = await router.create_webrtc_transport(listen_infos=LISTEN)
    producer = await send.produce(kind="audio", rtp_parameters={
        "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000,
                    "channels": 2}],
        "encodings": [{"ssrc": 1111}]})
    consumers = [await recv.consume(producer_id=producer.id,
                                    rtp_capabilities=router.rtp_capabilities)
                 for _ in range(3)]
    producer.close()
    await router.dump()  # written by the worker after the three producerclose notifications
    assert all(c.closed for c in consumers)
    router.close()
    assert router.id not in (await worker.dump())["routerIds"]
    assert not worker.channel._pending
