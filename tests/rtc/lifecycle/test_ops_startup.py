"""The worker pool starts with the server (rtc.lifecycle.startup), not with the first call."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bots.live_daphne import LiveDaphne, children_of
from rtc import cluster
from rtc.lifecycle import startup
from rtc.services import set_room_service
from rtc.services.mediasoup_service import MediasoupService
from rtc.services.room_service import RoomService
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.django_db(transaction=True)


def _workers_of(pid: int) -> list[int]:
    """The mediasoup-worker children of ``pid``."""
    found = []
    for child in children_of(pid):
        try:
            if "mediasoup-worker" in Path(f"/proc/{child}/cmdline").read_bytes().decode():
                found.append(child)
        except OSError:
            continue
    return found


def test_daphne_spawns_its_workers_before_any_call():
    """A live daphne has its two workers running a few seconds after it starts, though no
    socket, call or probe has asked for them; SIGTERM stops them with it."""
    with LiveDaphne(worker_num=2, prefix="startup-test-") as server:
        try:
            eventually_sync(lambda: len(_workers_of(server.process.pid)) >= 2, timeout=20,
                            every=0.1, what="two workers")
        except AssertionError:
            raise AssertionError(server.log()) from None
        workers = _workers_of(server.process.pid)
        assert len(workers) == 2
        assert "mediasoup pool started" in server.log()
        assert server.stop() == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(
            f"/proc/{pid}/stat").read_text().split()[2]


async def test_start_pool_failure_is_logged_and_left_to_the_first_call(settings, caplog):
    """A pool that cannot start (no worker binary) makes start_pool return False with a log
    line instead of raising into the server; the same service starts once the binary is back."""
    good = dict(settings.MEDIASOUP or {})
    settings.MEDIASOUP = {**good, "WORKER_BIN": "/nonexistent/mediasoup-worker", "WORKER_NUM": 1}
    service = RoomService(MediasoupService())
    previous = set_room_service(service)
    try:
        with caplog.at_level(logging.ERROR, logger="rtc.lifecycle.startup"):
            assert await startup.start_pool() is False
        assert "the worker pool did not start" in caplog.text
        assert not service.mediasoup.started
        settings.MEDIASOUP = {**good, "WORKER_NUM": 1}
        assert await startup.start_pool() is True
        (worker,) = service.mediasoup.workers
        assert os.kill(worker.pid, 0) is None
    finally:
        await cluster.stop_node()  # with Redis configured, start_pool also joined the cluster
        set_room_service(previous)
        await service.close()
    assert worker.closed

