"""Dynacast across a cascaded call on two live nodes (real daphne processes, PostgreSQL,
Redis, the socket's own requests).

``RTC_PEERS_PER_NODE=1``: alice (the sender, a simulcast camera) takes node0's budget, bob's
transports go on node1's router of the call, carol's stay on node0 (there is no third node).
What alice is told (``rtc:producerLayers``) must follow bob's tile on node1 as it follows
carol's on node0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bots.signaling import SignalingClient
from tests.rtc.cluster.conftest import Cluster, make_cluster, wait_for
from tests.rtc.cluster.test_cluster_cascade import hosted
from tests.support.media import simulcast_parameters
from tests.support.rtc_client import DTLS_PARAMETERS

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Two nodes cascading past one peer each."""
    yield from make_cluster(2, env={"RTC_PEERS_PER_NODE": "1"})


async def joined(cluster: Cluster, meeting: str, user: str) -> tuple[SignalingClient, dict]:
    """A socket of ``user`` on node0, joined; the join's reply."""
    client = SignalingClient(cluster.url(0, meeting, user), origin=cluster.origin(0), name=user)
    await client.connect()
    return client, await client.request("rtc:join", {"displayName": user})


async def transport(client: SignalingClient, direction: str) -> dict[str, Any]:
    """A transport of the socket's peer, connected with dummy DTLS parameters."""
    created = await client.request("rtc:createTransport", {"direction": direction})
    await client.request("rtc:connectTransport", {"transportId": created["id"],
                                                  "dtlsParameters": DTLS_PARAMETERS})
    return dict(created)


async def viewer(client: SignalingClient, join: dict, producer_id: str,
                 spatial: int) -> tuple[str, set[str]]:
    """A resumed consumer of ``producer_id`` at ``spatial``; its id and its transport's ICE
    candidate addresses (which node holds it)."""
    recv = await transport(client, "recv")
    consumed = await client.request("rtc:consume", {
        "transportId": recv["id"], "producerId": producer_id,
        "rtpCapabilities": join["routerRtpCapabilities"]})
    assert consumed["consumerType"] == "simulcast"
    await client.request("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    await prefer(client, consumed["id"], spatial)
    return consumed["id"], {c.get("address") or c.get("ip") for c in recv["iceCandidates"]}


async def prefer(client: SignalingClient, consumer_id: str, spatial: int) -> None:
    await client.request("rtc:setPreferredLayers", {"consumerId": consumer_id,
                                                    "spatialLayer": spatial,
                                                    "temporalLayer": 2})


async def told(alice: SignalingClient, producer_id: str, layer: int, seen: int) -> int:
    """alice's next ``rtc:producerLayers`` after the ``seen`` first says ``layer``; how many
    she has got now."""
    def events() -> list[dict[str, Any]]:
        return [m.get("data") or {} for m in alice.events
                if m["type"] == "rtc:producerLayers"
                and (m.get("data") or {}).get("producerId") == producer_id]

    await wait_for(lambda: len(events()) > seen, timeout=10,
                   what=f"alice told layer {layer}")
    got = events()
    assert got[seen]["maxSpatialLayer"] == layer, got
    return len(got)


async def test_a_viewer_on_the_other_node_enlarging_the_tile_keeps_the_top_layer(
        cluster: Cluster) -> None:
    """carol (node0) watches alice's thumbnail, so alice is told layer 0; bob (his transports
    on node1) enlarges alice's tile: alice is told layer 2; bob back to the thumbnail: layer 0
    again; bob's consumer paused while he wants layer 1 counts for nothing. Once everyone
    left, node1 holds nothing."""
    meeting = cluster.meeting("cascade-dynacast")
    alice, _ = await joined(cluster, meeting, "alice")
    bob, bob_join = await joined(cluster, meeting, "bob")
    carol, carol_join = await joined(cluster, meeting, "carol")
    try:
        send = await transport(alice, "send")
        produced = await alice.request("rtc:produce", {
            "transportId": send["id"], "kind": "video",
            "rtpParameters": simulcast_parameters(), "appData": {"source": "webcam"}})
        producer = produced["id"]
        far, bob_addresses = await viewer(bob, bob_join, producer, 0)
        near, carol_addresses = await viewer(carol, carol_join, producer, 0)
        assert bob_addresses == {cluster.live.address(1)}
        assert carol_addresses == {cluster.live.address(0)}
        await wait_for(lambda: hosted(cluster, "node1")["transports"] == 1, timeout=10,
                       what="bob's transport held by node1")
        seen = await told(alice, producer, 0, 0)

        await prefer(bob, far, 2)
        seen = await told(alice, producer, 2, seen)
        await prefer(bob, far, 0)
        seen = await told(alice, producer, 0, seen)

        await prefer(bob, far, 1)
        seen = await told(alice, producer, 1, seen)
        await bob.request("rtc:pauseConsumer", {"consumerId": far})
        seen = await told(alice, producer, 0, seen)
        await prefer(carol, near, 1)  # carol's local wish still counts
        await told(alice, producer, 1, seen)
        for client in (bob, carol, alice):
            await client.request("rtc:leave", {})
        await wait_for(lambda: hosted(cluster, "node1") == {"routers": 0, "transports": 0,
                                                            "pipes": 0},
                       timeout=15, what="node1 holds nothing once everyone left")
    finally:
        for client in (bob, carol, alice):
            await client.close()
