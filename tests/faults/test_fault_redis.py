"""Redis killed under a live call on channels-redis, down 10 s, started again empty.

A redis-server of the test's own (``bench._services.PrivateRedis``, never the machine's
shared one). What it must do: the call's media goes on while Redis is down (media never
touches it); the meeting sockets stay open (the channel layer's receive pump retries, and
when Redis is back it writes this process's group memberships into the emptied Redis again,
so no socket is left deaf: tests/rtc/websocket/test_redis_burst.py proves that part across two
processes); the node keeps the call (it claims the meeting again in the emptied Redis instead
of closing it); events flow again to every socket afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mediasoup_ctl import worker_bin_path

from bench._services import PrivateRedis
from bench.chaos import SEED, ChaosPeer, Tally
from bots.live_daphne import LiveDaphne
from tests.support.waiting import eventually

pytestmark = [pytest.mark.timeout(240)]

DOWN_SECONDS = 10.0


@pytest.fixture
def redis_server() -> Iterator[tuple[LiveDaphne, PrivateRedis, dict[str, Any]]]:
    """daphne (one worker, SQLite) on a private redis-server; seeded chaos-0..2 and ops."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    redis = PrivateRedis().start()
    server = LiveDaphne(redis_url=redis.url, log_level="INFO", prefix="conference-fault-")
    try:
        server.start()
        yield server, redis, server.shell(SEED.format(peers=3))
    finally:
        server.cleanup()
        redis.close()


async def test_redis_restart_keeps_the_call_and_no_socket_stays_deaf(
    redis_server: tuple[LiveDaphne, PrivateRedis, dict[str, Any]],
) -> None:
    """Ada and Bob call; Redis dies for 10 s: Bob keeps decoding Ada meanwhile; both sockets
    stay open as the same peers (no rtc:peerLeft, the room never closed) and the server
    restores its group memberships in the new Redis; Cy then joins and both hear
    rtc:peerJoined, and everyone decodes everyone."""
    server, redis, data = redis_server
    tally = Tally()

    def peer(i: int) -> ChaosPeer:
        return ChaosPeer(server, data["meeting"], f"chaos-{i}", data["tokens"][f"chaos-{i}"],
                         tally)

    ada, bob, cy = peer(0), peer(1), peer(2)
    try:
        await ada.start()
        await bob.start()
        ids = (ada.bot.peer_id, bob.bot.peer_id)
        await bob.bot.wait_frames(ada.bot.peer_id)

        await asyncio.to_thread(redis.stop)
        stopped = time.monotonic()
        await bob.bot.wait_frames(ada.bot.peer_id, timeout=DOWN_SECONDS - 2)  # media goes on
        await asyncio.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - stopped)))
        await asyncio.to_thread(redis.start)

        await eventually(lambda: "memberships restored" in server.log_path.read_text(
            errors="replace"), timeout=60, every=0.2, what="the memberships restored")
        assert (ada.bot.peer_id, bob.bot.peer_id) == ids
        assert ada.socket_reconnects == 0 and bob.socket_reconnects == 0  # never closed
        assert ada.bot.receiving and bob.bot.receiving
        await cy.start()
        for watcher in (ada, bob):
            await watcher.bot.signaling.wait_event("rtc:peerJoined", timeout=20,
                                                   peerId=cy.bot.peer_id)
        for receiver in (ada, bob, cy):
            for sender in (ada, bob, cy):
                if sender is not receiver:
                    await receiver.bot.wait_frames(sender.bot.peer_id, timeout=30)
        log = server.log_path.read_text(errors="replace")
        assert "node_lost" not in log and "room closed" not in log
        assert not tally.failed, tally.failed
    finally:
        for p in (cy, bob, ada):
            await p.stop()
