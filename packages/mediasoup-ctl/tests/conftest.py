"""Fixtures for the library's tests: a real mediasoup-worker, checked for leaks on teardown."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from mediasoup_ctl import Worker, create_worker, worker_bin_path


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _close_and_check(worker: Worker) -> None:
    if not worker.closed:
        # Nothing may be left behind by the test: every router it created is closed or
        # still tracked, and the worker agrees with our object tree.
        dump = await worker.dump()
        assert sorted(dump["routerIds"]) == sorted(worker.routers)
        worker.close()
    await worker.wait_closed(10)
    assert worker.closed
    assert not worker.routers
    assert worker.channel.closed
    assert _process_gone(worker.pid), f"worker process {worker.pid} still exists"


@pytest.fixture
def worker_bin() -> str:
    """The worker binary; skip the test if it has not been built."""
    path = worker_bin_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"mediasoup-worker not built at {path}: run make test")
    return path


@pytest.fixture
async def worker(worker_bin: str) -> AsyncIterator[Worker]:
    """A running worker; on teardown it is closed and its process must be gone."""
    w = await create_worker(log_level="warn", rtc_min_port=40000, rtc_max_port=49999)
    yield w
    await _close_and_check(w)


@pytest.fixture
async def worker2(worker_bin: str) -> AsyncIterator[Worker]:
    """A second running worker (pipe tests), checked like ``worker``."""
    w = await create_worker(log_level="warn", rtc_min_port=40000, rtc_max_port=49999)
    yield w
    await _close_and_check(w)
