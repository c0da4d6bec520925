"""A meeting's start on the hour: 100 distinct users open their sockets at once and join.

A live daphne (``bench._server.DaphneServer``: the project's settings with the benchmark's
relaxed rate limits) on a fresh database of the run's own server (PostgreSQL in the CI's
PostgreSQL + Redis pass, where daphne also uses Redis; SQLite otherwise), real WebSockets
(``bots.signaling``), the default worker pool.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

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


def _listen_overflows() -> int:
    """The kernel's count of handshakes dropped because a listen queue was full (TcpExt
    ListenOverflows, the whole machine)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:]),
                            strict=True))["ListenOverflows"]
    raise AssertionError("no TcpExt counters")


def _listen_backlog(port: int) -> int:
    """The listen queue of the socket listening on ``port`` (``ss``'s Send-Q for a listener;
    iproute2 comes with the project's set-up)."""
    listing = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True,
                             text=True, check=True).stdout.split()
    return int(listing[2])


async def _join(server: DaphneServer, meeting: str, token: str, index: int) -> dict:
    client = SignalingClient(f"{server.url}/ws/meetings/{meeting}/?token={token}",
                             origin=server.origin, name=f"burst{index}", timeout=60,
                             compression=None, ping_interval=None)
    state = await client.connect()
    joined = await client.request("rtc:join", {"displayName": f"burst {index}"})
    return {"client": client, "state": state, "joined": joined}


async def test_a_burst_of_100_distinct_users_all_get_into_their_calls(burst_server):
    """100 users, each invited to one of 10 meetings, open their sockets in the same instant
    and send rtc:join: every handshake completes (none dropped by a full listen queue and
    retried a second later: `conference.listen_backlog`), every socket gets ``meeting.state``
    and an ``rtc:joined`` (no refusal, no close, no timeout), and each call holds its 10 peers.
    Each socket then knows all of its meeting's people and call peers, each from its snapshot
    or from an announcement, not both. When they all close at once, every leave is written
    (`meetings.leaves`, in batches)."""
    server, seats = burst_server
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert _listen_backlog(server.port) == min(1024, somaxconn)  # Twisted's own is 50
    overflows = _listen_overflows()
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
        assert _listen_overflows() == overflows, "a handshake was dropped and retried"
        assert elapsed < 60, elapsed
        await _everyone_told_once(results)
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        await _everyone_left(server)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


ATTENDANCE = """
import json
from meetings.models import Participant
rows = Participant.objects.filter(joined_at__isnull=False)
print(json.dumps({"present": rows.filter(left_at__isnull=True).count(),
                  "left": rows.filter(left_at__isnull=False).count()}))
"""


async def _everyone_left(server: DaphneServer) -> None:
    """Every one of the burst's participants is recorded as gone (the server has no reconnect
    grace: the leaves are written as the sockets close)."""
    deadline = time.monotonic() + 30
    while True:
        counts = await asyncio.to_thread(server.shell, ATTENDANCE)
        if counts == {"present": 0, "left": PEERS} or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert counts == {"present": 0, "left": PEERS}, f"{counts}\n{server.log()}"


def _told(result: dict) -> tuple[set, set, list, list]:
    """What one socket was told: the participants (user, join time) and call peers its
    snapshots listed, and the ``meeting.participantJoined`` and ``rtc:peerJoined`` it got."""
    client = result["client"]
    listed_people = {(p["userId"], p["joinedAt"]) for p in result["state"]["data"]["participants"]}
    listed_peers = {p["peerId"] for p in result["joined"]["peers"]}
    people = [(e["data"]["userId"], e["data"]["joinedAt"]) for e in client.events
              if e.get("type") == "meeting.participantJoined"]
    peers = [e["data"]["peerId"] for e in client.events if e.get("type") == "rtc:peerJoined"]
    return listed_people, listed_peers, people, peers


async def _everyone_told_once(results: list[dict]) -> None:
    """Every socket learns every participant and every call peer of its meeting, each once:
    from its snapshot or from the announcement, never from both (`rtc.websocket.told`); no
    ``meeting.updated`` repeats the meeting its snapshot gave (the meeting's start)."""
    own_peer = {id(r["client"]): r["joined"]["peerId"] for r in results}
    deadline = time.monotonic() + 30
    while True:
        missing = []
        for result in results:
            listed_people, listed_peers, people, peers = _told(result)
            if (len(listed_people | set(people)) < PER_MEETING
                    or len(listed_peers | set(peers)) < PER_MEETING - 1):
                missing.append(result["client"].name)
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert not missing, f"{len(missing)} sockets still miss a participant or a peer"
    for result in results:
        listed_people, listed_peers, people, peers = _told(result)
        assert not listed_people & set(people) and len(people) == len(set(people)), (
            result["client"].name, listed_people, people)
        assert not listed_peers & set(peers) and len(peers) == len(set(peers)), (
            result["client"].name, listed_peers, peers)
        assert own_peer[id(result["client"])] not in listed_peers | set(peers)
        updates = [e["data"] for e in result["client"].events if e.get("type") == "meeting.updated"]
        assert result["state"]["data"]["meeting"] not in updates, result["client"].name
