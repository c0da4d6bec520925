"""End to end: pymediasoup clients call each other through a live daphne and its worker.

Real sockets, real ICE/DTLS/SRTP on loopback, real encoders and decoders. The server's state is
read through the staff-only ``rtc:serverStats`` request on a socket of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mediasoup_ctl.testing import process_gone

from tests.rtc.call_client import CallClient
from tests.rtc.live import LiveServer, running, seed
from tests.support.waiting import eventually

pytestmark = [pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    """A daphne with a seeded meeting (ada hosts, bob and cy invited) and a staff user."""
    with running() as server:
        yield server, seed(server)


@pytest.fixture
async def clients(live) -> AsyncIterator[Any]:
    """Factory of connected CallClients (closed at teardown) and the staff stats client."""
    server, data = live
    made: list[CallClient] = []

    async def make(name: str, *, meeting: str | None = None) -> CallClient:
        client = CallClient(server.ws_url(meeting or data["meeting"], data["tokens"][name]),
                            server.url, name)
        state = await client.connect()
        assert state["type"] == "meeting.state", state
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def _stats(ops: CallClient) -> dict[str, Any]:
    return await ops.request("rtc:serverStats")


async def _wait_stats(ops: CallClient, **expected: int) -> dict[str, Any]:
    stats: dict[str, Any] = {}

    async def reached() -> bool:
        stats.update(await _stats(ops))
        return all(stats[key] == value for key, value in expected.items())

    await eventually(reached, timeout=20, what=f"server stats {expected}")
    return stats


async def _two_in_a_call(live: Any, clients: Any) -> tuple[CallClient, CallClient, CallClient]:
    """The staff stats client, then Ada and Bob joined and publishing, each decoding the
    other's audio and video."""
    _, data = live
    ops = await clients("ops", meeting=data["ops_room"])
    ada, bob = await clients("ada"), await clients("bob")
    await ada.join()
    await bob.join()
    await ada.publish()
    await bob.publish()
    await asyncio.gather(ada.wait_frames(bob.joined["peerId"]),
                         bob.wait_frames(ada.joined["peerId"]))
    return ops, ada, bob


async def test_two_peers_call_a_late_joiner_receives_both_and_leaving_cleans_up(live, clients):
    """Ada and Bob exchange decodable audio and video; Cy joins late and receives both; when
    everyone leaves the server has no room, transport, producer or consumer left and its
    worker no router."""
    ops, ada, bob = await _two_in_a_call(live, clients)
    ada_id, bob_id = ada.joined["peerId"], bob.joined["peerId"]
    assert all(w > 0 and h > 0 for w, h in ada.video_sizes | bob.video_sizes)
    # Both send a tone: the active speaker observer names one of them to both.
    await eventually(lambda: any(e["type"] == "rtc:activeSpeaker"
                                 for e in ada.events + bob.events), what="an active speaker")
    speakers = {e["data"]["peerId"] for c in (ada, bob) for e in c.events
                if e["type"] == "rtc:activeSpeaker"}
    assert speakers and speakers <= {ada_id, bob_id}

    cy = await clients("cy")
    joined = await cy.join()
    assert joined["activeSpeaker"] in (ada_id, bob_id), "a late joiner learns the speaker"
    assert {p["peerId"] for p in joined["peers"]} == {ada_id, bob_id}
    await asyncio.gather(cy.wait_frames(ada_id), cy.wait_frames(bob_id))
    # The early pair keeps receiving while the third peer is in.
    await asyncio.gather(ada.wait_frames(bob_id, audio=5, video=3),
                         bob.wait_frames(ada_id, audio=5, video=3))
    stats = await _stats(ops)
    assert (stats["rooms"], stats["peers"], stats["transports"], stats["producers"],
            stats["consumers"]) == (1, 3, 6, 4, 8)

    for client in (cy, bob, ada):
        await client.leave()
    stats = await _wait_stats(ops, rooms=0, peers=0, transports=0, producers=0, consumers=0)
    assert stats["workerDumps"] and all(not d["routerIds"] for d in stats["workerDumps"])
    left = [e["data"]["peerId"] for e in ada.events if e["type"] == "rtc:peerLeft"]
    assert left == [cy.joined["peerId"], bob_id]


async def test_killed_worker_call_recovers_with_media(live, clients):
    """SIGKILL the worker during a call: both clients get rtc:reconnect, resume as the same
    peers on a new worker, and decode each other's media again."""
    ops, ada, bob = await _two_in_a_call(live, clients)
    ada_id, bob_id = ada.joined["peerId"], bob.joined["peerId"]
    pid = (await _stats(ops))["workerDumps"][0]["pid"]

    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: ada.reconnects > 0 and bob.reconnects > 0, timeout=30,
                     what="both clients reconnected")
    await asyncio.gather(ada.wait_frames(bob_id), bob.wait_frames(ada_id))
    assert ada.joined["peerId"] == ada_id and ada.joined["resumed"] is True
    stats = await _stats(ops)
    assert stats["workerDumps"][0]["pid"] != pid
    assert (stats["peers"], stats["transports"], stats["producers"]) == (2, 4, 4)
    for client in (ada, bob):
        await client.leave()
    await _wait_stats(ops, rooms=0, peers=0, transports=0, producers=0, consumers=0)


async def test_stopping_the_server_leaves_no_worker(live, clients):
    """Runs last in the module: SIGTERM on daphne ends its worker process too."""
    server, data = live
    ops = await clients("ops", meeting=data["ops_room"])
    ada = await clients("ada")
    await ada.join()
    pid = (await _stats(ops))["workerDumps"][0]["pid"]
    await ada.close()
    await ops.close()
    await asyncio.to_thread(server.stop)
    await eventually(lambda: process_gone(pid), timeout=15, what=f"worker {pid} gone")
