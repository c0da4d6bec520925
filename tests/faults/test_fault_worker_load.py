"""A worker killed while 20 peers join, produce and consume at once (``bench.worker_kill_load``
runs the same with 100): every request answered, every peer back with all its media objects,
the pool whole, nothing left after everyone leaves."""

from __future__ import annotations

import asyncio
import os

import pytest
from mediasoup_ctl import worker_bin_path

from bench.worker_kill_load import run, start_server

pytestmark = [pytest.mark.timeout(300)]


async def test_worker_killed_under_a_joining_crowd_loses_nothing_and_leaks_nothing() -> None:
    """20 scripted peers set up concurrently; half a second in, the worker is SIGKILLed.
    No request goes unanswered, every peer ends with 2 transports, 1 producer and 19
    consumers, the pool has its worker again, and after all leave nothing is left."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    server, data = await asyncio.to_thread(start_server, 20, 1)
    try:
        result = await run(server, data, workers=1, kill_after=0.5)
    finally:
        await asyncio.to_thread(server.cleanup)
    assert result["killed"] == 1, result
    assert result["reconnects"] > 0, result
    assert not result["unanswered"] and not result["failures"], result
    assert result["got"] == result["expected"], result
    assert not any(result["left"].values()) and result["routers"] == 0, result
    assert result["workers_after"] == 1, result
