"""The process starts and stops with the server, through one path whatever the server.

Servers with the ASGI lifespan protocol drive ``conference.asgi.application``'s ``lifespan``
scope (`conference.lifespan`); daphne, which has none, drives the same two calls from its
reactor (`rtc.lifecycle.startup.install`, `rtc.lifecycle.shutdown.install`). Both against a real
worker pool: its workers run before any call, and are gone once the server stopped.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from asgiref.testing import ApplicationCommunicator
from mediasoup_ctl.testing import process_gone

from rtc.lifecycle import shutdown, startup
from rtc.websocket.envelope import CloseCode

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _not_shutting_down() -> Iterator[None]:
    """The process serves again after the test stopped it (new sockets are accepted)."""
    yield
    shutdown._state["shutting_down"] = False
    shutdown._connections.clear()


@pytest.fixture
def start_hook() -> Iterator[list[str]]:
    """A start-up hook (`rtc.lifecycle.startup.on_start`) that notes each run, removed
    afterwards."""
    runs: list[str] = []

    async def hook() -> None:
        runs.append("ran")

    startup.on_start(hook)
    yield runs
    startup._hooks.remove(hook)


async def test_lifespan_starts_the_pool_before_any_call_and_stops_it(
        rtc_service, rtc_client, meeting, host_user, ws_expect_close, start_hook):
    """``lifespan.startup`` starts the worker pool (its worker process running before any
    call) and the start-up hooks, then completes; a call runs on that pool; then
    ``lifespan.shutdown`` tells the peer ``rtc:reconnect``, closes its socket with 4503, closes
    the room, stops the worker process and completes."""
    from conference.asgi import application

    assert not rtc_service.mediasoup.started
    lifespan = ApplicationCommunicator(application, {"type": "lifespan",
                                                     "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(20) == {"type": "lifespan.startup.complete"}
    assert rtc_service.mediasoup.started and start_hook == ["ran"]
    (worker,) = rtc_service.mediasoup.workers
    assert os.kill(worker.pid, 0) is None

    host = await rtc_client(meeting, host_user)
    await host.join()
    assert rtc_service.mediasoup.workers == [worker]  # the call used the pool started above
    assert rtc_service.counts()["peers"] == 1

    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(20) == {"type": "lifespan.shutdown.complete"}
    assert shutdown.shutting_down()
    assert await host.event("rtc:reconnect") == {"reason": "server_shutdown"}
    assert await ws_expect_close(host.ws) == CloseCode.SHUTTING_DOWN
    assert rtc_service.rooms == {} and rtc_service.mediasoup.workers == []
    await asyncio.wait_for(worker.wait_closed(10), 10)
    assert process_gone(worker.pid)
    await lifespan.wait(5)  # the scope's task ended with the shutdown


async def test_lifespan_shutdown_that_fails_answers_failed(rtc_service, monkeypatch):
    """A shutdown that cannot finish (here: past its time limit) answers
    ``lifespan.shutdown.failed`` with the reason instead of leaving the server waiting."""
    from conference.asgi import application

    async def hangs() -> dict[str, int]:
        await asyncio.Event().wait()  # never set: a shutdown that does not finish
        return {}

    monkeypatch.setattr(shutdown, "shutdown", hangs)
    monkeypatch.setattr(shutdown, "SHUTDOWN_TIMEOUT", 0.2)
    lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(20) == {"type": "lifespan.startup.complete"}
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(5) == {"type": "lifespan.shutdown.failed",
                                                "message": "TimeoutError"}
    await rtc_service.close()  # what the stubbed shutdown did not do


async def test_daphne_reactor_runs_the_same_start_and_stop(rtc_service, start_hook):
    """daphne's reactor callbacks (``callWhenRunning`` at start, the "before shutdown"
    trigger at stop) run the same start and stop as the lifespan: the pool and the hooks
    start, and the trigger's Deferred fires once the room service closed and the worker
    process is gone."""
    startup._start_soon()  # what the reactor calls once it runs
    assert await asyncio.wait_for(startup._state["task"], 20) is True
    assert start_hook == ["ran"]
    (worker,) = rtc_service.mediasoup.workers

    deferred = shutdown._before_reactor_shutdown()  # what the reactor awaits at SIGTERM
    counts = await asyncio.wait_for(deferred.asFuture(asyncio.get_running_loop()), 20)
    assert counts == {"sockets": 0, "peers": 0}
    assert shutdown.shutting_down()
    assert rtc_service.mediasoup.workers == [] and rtc_service.rooms == {}
    await asyncio.wait_for(worker.wait_closed(10), 10)
    assert process_gone(worker.pid)
