"""A call cascaded over two live nodes: peers' media on both, producers piped between them.

``RTC_PEERS_PER_NODE=1``: the owner takes the first peer's transports, the next peer's go on a
router of the other node (claimed in Redis, opened through node-to-node operations), its ICE
candidates that node's own address; producers cross between the nodes over an SRTP pipe. On
fresh nodes of equal load a call goes to the smallest node id (node0), so node0 owns the calls
here and node1 holds the cascaded media.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bots.peer import Bot
from tests.rtc.cluster.conftest import (
    Cluster,
    candidate_addresses,
    make_cluster,
    record_replies,
    wait_for,
)
from tests.rtc.cluster.test_cluster_call import _api

pytestmark = pytest.mark.django_db(transaction=False)

CONNECT_TIMEOUT = 4
CASCADE_ENV = {"RTC_PEERS_PER_NODE": "1",
               "RTC_TRANSPORT_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT)}
"""A short DTLS deadline: a cascaded transport whose ``connected`` state did not come back to
the owner would be closed after it (and the media would stop)."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Two nodes cascading past one peer each (the last test kills node1)."""
    yield from make_cluster(2, env=CASCADE_ENV)


def hosted(cluster: Cluster, node: str) -> dict[str, int]:
    """What a node's record says it holds for calls owned elsewhere."""
    with cluster.redis as client:
        record = client.hgetall(cluster.key(f"node:{node}"))
    return {k: int(record.get(f"cascade_{k}", -1)) for k in ("routers", "transports", "pipes")}


def cascades(cluster: Cluster, meeting: str) -> dict[str, str]:
    """The Redis record of the nodes a meeting's call is cascaded to (node id → owner)."""
    with cluster.redis as client:
        return client.hgetall(cluster.key(f"cascade:{meeting}"))


def media_flows(a: Bot, b: Bot, frames: int = 3) -> bool:
    """Both bots decode video from the other's current peer."""
    return (a.frames.get((b.peer_id, "video"), 0) > frames
            and b.frames.get((a.peer_id, "video"), 0) > frames)


async def cascaded_call(cluster: Cluster, meeting: str, socket_node: int
                        ) -> tuple[Bot, Bot, dict[str, list[tuple[str, Any]]]]:
    """alice then bob join through node ``socket_node`` and publish; media flows."""
    alice = await cluster.bot(socket_node, meeting, "alice")
    bob = await cluster.bot(socket_node, meeting, "bob")
    replies = {"alice": record_replies(alice), "bob": record_replies(bob)}
    await alice.join()
    await bob.join()
    await alice.publish()
    await bob.publish()
    await wait_for(lambda: media_flows(alice, bob), timeout=30,
                   what="media between alice (node0) and bob (node1)")
    return alice, bob, replies


async def consumer_stats(bot: Bot, peer_id: str) -> dict[str, Any]:
    """The server's stats of the bot's video consumer of ``peer_id`` (outbound RTP)."""
    producer_id = next(p for p, c in bot._consumed.items()
                       if bot.media.received.get(c) is not None
                       and bot.media.received[c].peer_id == peer_id
                       and bot.media.received[c].kind == "video")
    reply = await bot.request("rtc:getStats", {"consumerId": bot._consumed[producer_id]})
    return next(s for s in reply["stats"] if s.get("type") == "outbound-rtp")


async def test_cascaded_call_media_both_ways_then_nothing_left_on_the_remote_node(
        cluster: Cluster) -> None:
    """alice's transports go on node0 (the owner), bob's on node1 with node1's address in
    their ICE candidates; each decodes the other's audio and video, still after the DTLS
    deadline, and the server's stats of each one's consumer count packets sent from its own
    node; Redis names node1 in the call's cascade and node1's record holds one router and two
    transports, with a pipe; the live-room API shows both peers and their tracks. When both
    leave, node1 holds nothing for the call any more and the cascade record is gone."""
    meeting = cluster.meeting("cascade")
    started = time.monotonic()
    alice, bob, replies = await cascaded_call(cluster, meeting, 0)
    assert cluster.owner(meeting) == "node0"
    assert candidate_addresses(replies["alice"]) == {cluster.live.address(0)}
    assert candidate_addresses(replies["bob"]) == {cluster.live.address(1)}
    # Past the DTLS deadline: the owner heard both cascaded transports connect.
    await asyncio.sleep(max(0.0, CONNECT_TIMEOUT + 1 - (time.monotonic() - started)))
    await alice.wait_frames(bob.peer_id, audio=20, video=10)
    await bob.wait_frames(alice.peer_id, audio=20, video=10)
    for bot, other in ((alice, bob), (bob, alice)):
        stats = await consumer_stats(bot, other.peer_id)
        assert stats["packetCount"] > 10 and stats["byteCount"] > 1000, stats
    assert cascades(cluster, meeting) == {"node1": "node0"}
    await wait_for(lambda: hosted(cluster, "node1") == {"routers": 1, "transports": 2,
                                                        "pipes": 1},
                   what=f"node1 holds bob's media: {hosted(cluster, 'node1')}")
    assert hosted(cluster, "node0") == {"routers": 0, "transports": 0, "pipes": 0}
    view = await asyncio.to_thread(_api, cluster, 1, "GET", f"integrations/live/{meeting}/")
    assert view["node"] == "node0"
    assert {p["peer_id"]: len(p["tracks"]) for p in view["peers"]} == {alice.peer_id: 2,
                                                                        bob.peer_id: 2}

    await bob.leave()
    await alice.leave()
    await wait_for(lambda: hosted(cluster, "node1") == {"routers": 0, "transports": 0,
                                                        "pipes": 0},
                   what=f"node1 cleaned up: {hosted(cluster, 'node1')}")
    assert cascades(cluster, meeting) == {}
    await cluster.close_bots()


async def test_killed_remote_node_its_peers_rebuild_on_the_owner(cluster: Cluster) -> None:
    """node1, holding bob's media, is killed (SIGKILL): when its lease runs out the owner
    tells bob to reconnect; bob rebuilds on node0 (its new candidates node0's address) and
    media flows both ways again; alice never reconnects."""
    meeting = cluster.meeting("cascade-kill")
    alice, bob, replies = await cascaded_call(cluster, meeting, 0)
    assert candidate_addresses(replies["bob"]) == {cluster.live.address(1)}
    replies["bob"].clear()
    before = (alice.frames.get((bob.peer_id, "video"), 0),
              bob.frames.get((alice.peer_id, "video"), 0))
    cluster.live.kill(1)
    await wait_for(lambda: bob.reconnects >= 1, timeout=15, what="bob told to reconnect")
    await wait_for(lambda: alice.frames.get((bob.peer_id, "video"), 0) > before[0] + 10
                   and bob.frames.get((alice.peer_id, "video"), 0) > before[1] + 10,
                   timeout=30, what="media back after node1 died")
    assert candidate_addresses(replies["bob"]) == {cluster.live.address(0)}
    assert alice.reconnects == 0
    await cluster.close_bots()


@pytest.fixture
def fresh() -> Iterator[Cluster]:
    """Two fresh cascading nodes of this test's own (it kills the owner)."""
    yield from make_cluster(2, env=CASCADE_ENV)


async def test_killed_owner_the_remote_node_closes_its_media(fresh: Cluster) -> None:
    """The owner (node0) is killed while node1 holds bob's media and both sockets: node1
    closes what it held for the dead owner's call (nothing leaks), the peers rejoin on node1,
    now the owner, and media flows again."""
    meeting = fresh.meeting("cascade-owner-kill")
    alice, bob, _ = await cascaded_call(fresh, meeting, 1)
    assert fresh.owner(meeting) == "node0"
    await wait_for(lambda: hosted(fresh, "node1")["routers"] == 1, what="bob's media on node1")
    fresh.live.kill(0)
    await wait_for(lambda: hosted(fresh, "node1")["routers"] == 0, timeout=15,
                   what=f"node1 closed the dead owner's media: {hosted(fresh, 'node1')}")
    await wait_for(lambda: alice.reconnects >= 1 and bob.reconnects >= 1
                   and media_flows(alice, bob), timeout=30, what="media back on node1")
    assert fresh.owner(meeting) == "node1"
    assert hosted(fresh, "node1") == {"routers": 0, "transports": 0, "pipes": 0}
    await fresh.close_bots()
