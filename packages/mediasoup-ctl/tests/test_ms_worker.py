"""The Worker against the real mediasoup-worker binary: spawn, requests, close, death."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from mediasoup_ctl import (
    ChannelClosedError,
    InvalidParameterError,
    InvalidStateError,
    RequestTimeoutError,
    WorkerDiedError,
    WorkerError,
    create_worker,
)
from mediasoup_ctl.testing import process_gone


async def test_worker_runs_and_dumps_an_empty_tree(worker):
    """A new worker reports its pid and has no routers or servers."""
    assert worker.pid > 0 and not worker.closed and not worker.died
    dump = await worker.dump()
    assert dump["pid"] == worker.pid
    assert dump["routerIds"] == [] and dump["webRtcServerIds"] == []
    assert set(dump["channelMessageHandlers"]) == {
        "channelRequestHandlers", "channelNotificationHandlers"}


async def test_resource_usage_has_mediasoup_keys(worker):
    """get_resource_usage returns getrusage numbers under mediasoup's ru_* names."""
    usage = await worker.get_resource_usage()
    assert len(usage) == 16
    assert usage["ru_maxrss"] > 0
    assert all(isinstance(v, int) for v in usage.values())


async def test_update_settings_accepts_valid_and_refuses_invalid(worker):
    """Valid log settings reach the worker; an invalid level fails before sending."""
    await worker.update_settings(log_level="debug", log_tags=["ice", "dtls"])
    await worker.update_settings(log_level="warn")
    with pytest.raises(InvalidParameterError):
        await worker.update_settings(log_level="loud")
    with pytest.raises(InvalidParameterError):
        await worker.update_settings(log_tags="ice")  # type: ignore[arg-type]
    assert (await worker.dump())["pid"] == worker.pid


async def test_close_ends_the_process_and_refuses_calls(worker):
    """close() emits observer 'close', the process exits, later calls raise InvalidStateError."""
    closed = []
    subprocess_closed = []
    worker.observer.on("close", lambda: closed.append(True))
    worker.on("subprocessclose", lambda: subprocess_closed.append(True))
    worker.close()
    worker.close()  # idempotent
    assert worker.closed and closed == [True]
    await worker.wait_closed(5)
    assert process_gone(worker.pid)
    assert subprocess_closed == [True] and not worker.died
    with pytest.raises(InvalidStateError):
        await worker.dump()
    with pytest.raises(InvalidStateError):
        await worker.create_router(media_codecs=[])


async def test_sigkill_fails_pending_requests_at_once_and_emits_died(worker):
    """A worker killed with SIGKILL fails every pending request at once, then emits 'died'."""
    died: list[WorkerDiedError] = []
    observer_closed = []
    worker.on("died", died.append)
    worker.observer.on("close", lambda: observer_closed.append(True))
    os.kill(worker.pid, signal.SIGSTOP)  # nothing gets answered from now on
    pending = [asyncio.ensure_future(worker.dump()) for _ in range(20)]
    await asyncio.sleep(0.05)
    assert not any(f.done() for f in pending)
    started = time.monotonic()
    os.kill(worker.pid, signal.SIGKILL)
    results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 2)
    assert time.monotonic() - started < 1.0
    assert all(isinstance(r, ChannelClosedError) for r in results)
    await worker.wait_closed(5)
    await asyncio.sleep(0)
    assert worker.closed and worker.died
    assert len(died) == 1 and died[0].signal == "SIGKILL" and died[0].pid == worker.pid
    assert observer_closed == [True]
    with pytest.raises(InvalidStateError):
        await worker.dump()


async def test_request_times_out_when_the_worker_does_not_answer(worker):
    """A request with no reply fails with RequestTimeoutError; the channel keeps working."""
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        with pytest.raises(RequestTimeoutError):
            await worker.channel.request(1, timeout=0.2)  # WORKER_DUMP
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    # The late reply is dropped; the next request works.
    assert (await worker.dump())["pid"] == worker.pid


async def test_wrong_settings_are_refused(worker_bin):
    """Wrong settings (the worker exits with code 42) raise InvalidParameterError."""
    with pytest.raises(InvalidParameterError):
        await create_worker(rtc_min_port=50000, rtc_max_port=40000)
    with pytest.raises(InvalidParameterError):
        await create_worker(log_level="verbose")
    with pytest.raises(InvalidParameterError):
        await create_worker(app_data="x")  # type: ignore[arg-type]


async def test_missing_binary_is_a_clear_error(tmp_path):
    """A wrong worker path fails with WorkerError naming the build command."""
    with pytest.raises(WorkerError, match="run mediasoup-ctl-worker"):
        await create_worker(worker_bin=tmp_path / "nope")


async def test_worker_logs_reach_python_logging(worker, caplog):
    """Worker log lines are forwarded to the mediasoup_ctl.worker.log logger."""
    caplog.set_level("DEBUG", logger="mediasoup_ctl.worker.log")
    await worker.update_settings(log_level="debug", log_tags=["info"])
    # An unknown handler id makes the worker log an error and refuse the request.
    with pytest.raises(WorkerError):
        await worker.channel.request(9, handler_id="no-such-router")  # ROUTER_DUMP
    await asyncio.sleep(0.05)
    assert any(f"pid:{worker.pid}" in r.getMessage() for r in caplog.records
               if r.name == "mediasoup_ctl.worker.log")
