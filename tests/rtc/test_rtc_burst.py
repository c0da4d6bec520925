"""A meeting's start on the hour: 100 distinct users open their sockets at once and join.

A live daphne (``bench._server.DaphneServer``: the project's settings with the benchmark's
relaxed rate limits) on a fresh database of the run's own server (PostgreSQL in the CI's
PostgreSQL + Redis pass, where daphne also uses Redis; SQLite otherwise), real WebSockets
(``bots.signaling``), the default worker pool.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from bench._server import DaphneServer
from bots.signaling import SignalingClient

PEERS = 100
PER_MEETING = 10


@pytest.fixture
def burst_server():
    """The seeded server (stopped, database dropped afterwards) and its seed."""
    server = DaphneServer(redis_url=os.environ.get("REDIS_URL") or None, database="inherit")
    try:
        seeded = server.prepare(users=PEERS, meetings=PEERS // PER_MEETING, capacity=PER_MEETING)
        users, meetings = seeded["users"], seeded["meetings"]
        seats = [(meetings[i // PER_MEETING], i) for i in range(PEERS)]
        server.invite([(m, users[i]) for m, i in seats])
        server.start()
        yield server, [(m, seeded["tokens"][i]) for m, i in seats]
    finally:
        server.cleanup()


async def _join(server: DaphneServer, meeting: str, token: str, index: int) -> dict:
    client = SignalingClient(f"{server.url}/ws/meetings/{meeting}/?token={token}",
                             origin=server.origin, name=f"burst{index}", timeout=60,
                             compression=None, ping_interval=None)
    state = await client.connect()
    joined = await client.request("rtc:join", {"displayName": f"burst {index}"})
    return {"client": client, "state": state, "joined": joined}


async def test_a_burst_of_100_distinct_users_all_get_into_their_calls(burst_server):
    """100 users, each invited to one of 10 meetings, open their sockets in the same instant
    and send rtc:join: every handshake completes, every socket gets ``meeting.state`` and an
    ``rtc:joined`` (no refusal, no close, no timeout), and each call holds its 10 peers."""
    server, seats = burst_server
    started = time.monotonic()
    results = await asyncio.gather(*(_join(server, m, t, i) for i, (m, t) in enumerate(seats)),
                                   return_exceptions=True)
    elapsed = time.monotonic() - started
    clients = [r["client"] for r in results if isinstance(r, dict)]
    try:
        failures = [r for r in results if not isinstance(r, dict)]
        assert not failures, f"{len(failures)} of {PEERS} failed: {failures[:3]!r}\n{server.log()}"
        assert all(r["state"]["data"]["meeting"]["id"] == m for r, (m, _) in zip(results, seats,
                                                                          strict=True))
        peers_by_meeting: dict[str, set[str]] = {}
        for result, (meeting, _) in zip(results, seats, strict=True):
            peers_by_meeting.setdefault(meeting, set()).add(result["joined"]["peerId"])
        assert sorted(len(p) for p in peers_by_meeting.values()) == [PER_MEETING] * (
            PEERS // PER_MEETING)
        assert not [c for c in clients if c.closed.done()], "a socket was closed"
        assert elapsed < 60, elapsed
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
