"""pytest fixtures for code that drives mediasoup-worker: a real worker, checked for leaks.

A pytest plugin shipped with the library, so that its own tests and an application's share
one definition of "a worker, and afterwards nothing left": load it with
``pytest_plugins = ["mediasoup_ctl.testing"]`` in a top-level ``conftest.py`` (or import the
fixtures into a sub-folder's ``conftest.py``). It is not registered as an automatic
``pytest11`` entry point: installing the library must not add fixtures to every pytest run.

Fixtures: ``worker_bin`` (the binary; the test fails if it was not built), ``worker`` and
``worker2`` (running workers). On teardown each worker is closed and must have left nothing:
the worker's dump agrees with the object tree, the channel is closed and the process is gone.
Helpers: :data:`MEDIA_CODECS` (a router's codecs for media tests), :func:`wait_for` (until
frames have been decoded, say), :func:`free_udp_tcp_port` (for a WebRtcServer) and
:func:`close_twice` (close is idempotent). Only pytest and pytest-asyncio are needed (no web
framework).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from mediasoup_ctl import Worker, create_worker, worker_bin_path

__all__ = ["MEDIA_CODECS", "close_and_check", "close_twice", "free_udp_tcp_port", "process_gone",
           "wait_for", "worker", "worker2", "worker_bin"]

PORT_RANGE = (40000, 49999)
"""RTC ports of the fixtures' workers."""

MEDIA_CODECS: list[dict[str, Any]] = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000,
     "parameters": {"x-google-start-bitrate": 1000}},
    {"kind": "video", "mimeType": "video/H264", "clockRate": 90000,
     "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f",
                    "level-asymmetry-allowed": 1}},
]
"""Router codecs for media tests: Opus, VP8 and H264 constrained baseline (what browsers and
aiortc send)."""


async def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` every 0.1 s until it holds or ``timeout`` seconds pass; its last value
    (media arrives at its own pace: there is no event to wait on for "frames decoded")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


def process_gone(pid: int) -> bool:
    """Whether no process ``pid`` exists any more."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def free_udp_tcp_port() -> int:
    """A loopback port free for both UDP and TCP right now (a WebRtcServer binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free UDP+TCP port")


def close_twice(closable: Any) -> None:
    """Close a router, transport, server, ... twice: it is closed and its observer heard
    ``close`` once (``close()`` is idempotent)."""
    closed: list[bool] = []
    closable.observer.on("close", lambda: closed.append(True))
    closable.close()
    closable.close()
    assert closable.closed and closed == [True]


async def close_and_check(worker: Worker) -> None:
    """Close ``worker`` and assert it left nothing: every router it created is closed or still
    tracked (the worker agrees with the object tree), its channel is closed, its process gone."""
    if not worker.closed:
        dump = await worker.dump()
        assert sorted(dump["routerIds"]) == sorted(worker.routers)
        worker.close()
    await worker.wait_closed(10)
    assert worker.closed
    assert not worker.routers
    assert worker.channel.closed
    assert process_gone(worker.pid), f"worker process {worker.pid} still exists"


@pytest.fixture
def worker_bin() -> str:
    """The worker binary; the test fails (it is not skipped) if it has not been built."""
    path = worker_bin_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"mediasoup-worker not built at {path}: run mediasoup-ctl-worker")
    return path


async def _started() -> Worker:
    return await create_worker(log_level="warn", rtc_min_port=PORT_RANGE[0],
                               rtc_max_port=PORT_RANGE[1])


@pytest.fixture
async def worker(worker_bin: str) -> AsyncIterator[Worker]:
    """A running worker; on teardown it is closed and its process must be gone."""
    started = await _started()
    yield started
    await close_and_check(started)


@pytest.fixture
async def worker2(worker_bin: str) -> AsyncIterator[Worker]:
    """A second running worker (pipe tests), checked like ``worker``."""
    started = await _started()
    yield started
    await close_and_check(started)
