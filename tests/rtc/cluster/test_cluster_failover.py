"""Nodes that go: a drained node (SIGTERM) hands its calls over, a killed one (SIGKILL) loses
them to live nodes within seconds, and attendance stays true.

Three live nodes (a fourth joins after the drain). When every node has the same load, a new
call goes to the node with the smallest id: node0 first, node1 once node0 is gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from bots.live_cluster import RECONNECT_GRACE_SECONDS
from bots.peer import Bot
from tests.rtc.cluster.conftest import Cluster, make_cluster, wait_for

pytestmark = pytest.mark.django_db(transaction=False)

MEDIA_BACK_SECONDS = 5.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Three nodes, one worker each, under the default 3 s leases."""
    yield from make_cluster(3)


def media_flows(a: Bot, b: Bot) -> bool:
    """Both bots decode video from the other's current peer."""
    return (a.frames.get((b.peer_id, "video"), 0) > 3
            and b.frames.get((a.peer_id, "video"), 0) > 3)


async def start_call(cluster: Cluster, meeting: str, first_node: int,
                     others: tuple[int, int]) -> tuple[Bot, Bot, Bot]:
    """alice joins first on ``first_node``; bob and carol on ``others``; all publish and media
    flows between bob and carol."""
    alice = await cluster.bot(first_node, meeting, "alice")
    await alice.join()
    bob = await cluster.bot(others[0], meeting, "bob")
    carol = await cluster.bot(others[1], meeting, "carol")
    await bob.join()
    await carol.join()
    for bot in (alice, bob, carol):
        await bot.publish()
    await wait_for(lambda: media_flows(bob, carol), what="media between bob and carol")
    return alice, bob, carol


async def test_sigterm_drain_moves_the_call_and_drops_nobody(cluster: Cluster) -> None:
    """The owner gets SIGTERM: its peers on other nodes get rtc:reconnect (node_draining),
    rebuild on a live node and get media again, their sockets never close, the node exits 0
    and leaves the cluster, and attendance keeps bob and carol present."""
    meeting = cluster.meeting("drain")
    alice, bob, carol = await start_call(cluster, meeting, 0, (1, 2))
    assert cluster.owner(meeting) == "node0"
    stopped = time.monotonic()
    code = await asyncio.to_thread(cluster.live.terminate, 0)
    assert code == 0
    for bot in (bob, carol):
        await bot.signaling.wait_event("rtc:reconnect", reason="node_draining")
    await wait_for(lambda: bob.reconnects and carol.reconnects and media_flows(bob, carol),
                   what="media back after the drain")
    moved = time.monotonic() - stopped
    print(f"drain: media back {moved:.2f}s after SIGTERM")  # noqa: T201 (a figure for bench/README)
    assert cluster.owner(meeting) in ("node1", "node2")
    assert not bob.signaling.closed.done() and not carol.signaling.closed.done()
    assert "node0" not in cluster.node_ids()
    present = cluster.attendance(meeting)
    assert present["bob"]["present"] and present["carol"]["present"]
    assert moved < 20
    await bob.leave()
    await carol.leave()
    await cluster.close_bots()
    del alice
    # alice's socket was on node0. If her rebuild reached the new owner before node0 closed
    # that socket (a race the drain does not decide), her peer there waits out its reconnect
    # grace (RTC_RECONNECT_GRACE_SECONDS, 15 s in the cluster), as for any dropped socket.
    await wait_for(lambda: cluster.owner(meeting) is None, timeout=RECONNECT_GRACE_SECONDS + 10,
                   what="the moved call ended when its peers left")


async def test_sigkill_of_the_owner_media_back_within_five_seconds(cluster: Cluster) -> None:
    """The node owning a call is killed: its lease runs out, the peers on the other nodes get
    rtc:reconnect (node_lost), the call is placed on a live node and media flows again within
    5 s of the kill; alice, whose socket died with the node, is marked left, bob and carol
    stay present."""
    cluster.live.add_node()  # node3; with no call anywhere, node1 gets the next one
    await asyncio.sleep(1)  # every node has seen the others' loads fall to zero
    meeting = cluster.meeting("kill")
    alice, bob, carol = await start_call(cluster, meeting, 1, (2, 3))
    assert cluster.owner(meeting) == "node1"
    killed = time.monotonic()
    cluster.live.kill(1)
    await wait_for(lambda: bob.reconnects and carol.reconnects and media_flows(bob, carol),
                   timeout=30, what="media back after the kill")
    back = time.monotonic() - killed
    print(f"failover: media back {back:.2f}s after SIGKILL")  # noqa: T201 (a figure for bench/README)
    assert back < MEDIA_BACK_SECONDS, f"media back {back:.2f}s after the kill"
    assert cluster.owner(meeting) in ("node2", "node3")
    for bot in (bob, carol):
        assert any(e["type"] == "rtc:reconnect" and e["data"]["reason"] == "node_lost"
                   for e in bot.events)
    await wait_for(lambda: not cluster.attendance(meeting)["alice"]["present"], timeout=20,
                   what="alice marked left after her node died")
    present = cluster.attendance(meeting)
    assert present["bob"]["present"] and present["carol"]["present"]
    await cluster.close_bots()
    del alice
