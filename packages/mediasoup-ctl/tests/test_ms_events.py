"""The EventEmitter: order, once/off, failing and async listeners (no worker needed)."""

from __future__ import annotations

import asyncio
import logging

from mediasoup_ctl import EventEmitter


def test_listeners_run_in_order_and_once_runs_once():
    """on() listeners run in registration order; once() only on the next emit."""
    emitter = EventEmitter()
    calls: list[tuple[str, int]] = []
    emitter.on("x", lambda v: calls.append(("a", v)))
    emitter.once("x", lambda v: calls.append(("once", v)))
    emitter.on("x", lambda v: calls.append(("b", v)))
    assert emitter.emit("x", 1) is True
    emitter.emit("x", 2)
    assert calls == [("a", 1), ("once", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert emitter.listener_count("x") == 2
    assert emitter.emit("nobody") is False


def test_off_removes_on_and_once_listeners():
    """off() finds a listener whether it was added with on() or once()."""
    emitter = EventEmitter()
    calls: list[str] = []

    def listener() -> None:
        calls.append("x")

    emitter.on("x", listener).once("y", listener)
    emitter.off("x", listener).off("y", listener).off("z", listener)
    emitter.emit("x")
    emitter.emit("y")
    assert calls == [] and emitter.listener_count("x") == emitter.listener_count("y") == 0
    emitter.on("x", listener)
    emitter.remove_all_listeners()
    assert emitter.emit("x") is False


def test_a_raising_listener_is_logged_and_the_others_still_run(caplog):
    """A listener that raises does not stop the emit loop (a close cascade keeps going)."""
    emitter = EventEmitter()
    calls: list[str] = []
    emitter.on("close", lambda: 1 / 0)
    emitter.on("close", lambda: calls.append("after"))
    with caplog.at_level(logging.ERROR, logger="mediasoup_ctl.events"):
        assert emitter.emit("close") is True
    assert calls == ["after"]
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)


def test_listeners_may_remove_themselves_while_emitting():
    """Changing the listener list during emit affects the next emit only."""
    emitter = EventEmitter()
    calls: list[str] = []

    def first() -> None:
        calls.append("first")
        emitter.off("x", first)

    emitter.on("x", first)
    emitter.on("x", lambda: calls.append("second"))
    emitter.emit("x")
    emitter.emit("x")
    assert calls == ["first", "second", "second"]


async def test_async_listeners_run_as_tasks_and_failures_are_logged(caplog):
    """A coroutine listener is scheduled; its exception is logged, not lost."""
    emitter = EventEmitter()
    done = asyncio.Event()

    async def ok(value: int) -> None:
        await asyncio.sleep(0)
        if value == 1:
            done.set()

    async def bad(_: int) -> None:
        raise RuntimeError("boom")

    emitter.on("x", ok)
    emitter.on("x", bad)
    with caplog.at_level(logging.ERROR, logger="mediasoup_ctl.events"):
        emitter.emit("x", 1)
        await asyncio.wait_for(done.wait(), 1)
        await asyncio.sleep(0.01)
    assert any("boom" in (r.exc_text or "") for r in caplog.records)


async def test_wait_for_returns_the_event_arguments():
    """wait_for() resolves with the next emit's arguments and cleans up its listener."""
    emitter = EventEmitter()
    asyncio.get_running_loop().call_later(0.01, emitter.emit, "score", 7, "x")
    assert await emitter.wait_for("score", timeout=1) == (7, "x")
    assert emitter.listener_count("score") == 0
