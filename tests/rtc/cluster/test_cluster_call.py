"""A call across live nodes: sockets on different nodes, one owner, media both ways.

Three daphne nodes on one PostgreSQL database and one Redis. Sockets reach whichever node
they are pointed at (as behind a round-robin balancer); the call runs on the node the
placement chose, its media on that node's own address, and requests of sockets elsewhere are
relayed to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from bots.signaling import SignalingError
from tests.rtc.cluster.conftest import (
    Cluster,
    candidate_addresses,
    make_cluster,
    record_replies,
    wait_for,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=False)

METRICS_TOKEN = "cluster-test-metrics-token-not-a-secret"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Three nodes (module-wide: starting them takes seconds)."""
    yield from make_cluster(3, env={"RTC_MAX_SOCKETS_PER_USER": "3",
                                    "METRICS_TOKEN": METRICS_TOKEN})


async def test_every_node_registers_with_its_own_media_address(cluster: Cluster) -> None:
    """Each node holds a lease in Redis naming its id and its own announced media address,
    and says on /readyz that it can take meetings."""
    import json
    import urllib.error
    import urllib.request

    assert cluster.node_ids() == ["node0", "node1", "node2"]
    with cluster.redis as client:
        for i in range(3):
            record = client.hgetall(cluster.key(f"node:node{i}"))
            assert record["address"] == cluster.live.address(i)
            assert record["draining"] == "0" and int(record["workers"]) == 1
            assert 0 < client.pttl(cluster.key(f"node:node{i}")) <= 3000
    try:
        with urllib.request.urlopen(f"{cluster.live.nodes[1].url}/readyz", timeout=10) as answer:
            body = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        raise AssertionError(error.read().decode()) from None
    assert body["checks"]["node"] == {"ok": True, "cluster": True, "node": "node1",
                                      "lease": True, "draining": False, "nodes": 3}


async def test_call_across_nodes_media_both_ways_and_a_late_joiner(cluster: Cluster) -> None:
    """alice on node0 and bob on node1 share one call owned by one node: both get the other's
    audio and video, their transports' candidates are the owner's address, and carol joining
    late on node2 receives both of them while they receive her."""
    meeting = cluster.meeting("across")
    alice = await cluster.bot(0, meeting, "alice")
    bob = await cluster.bot(1, meeting, "bob")
    try:
        replies = {"alice": record_replies(alice), "bob": record_replies(bob)}
        await alice.join()
        await bob.join()
        owner = cluster.owner(meeting)
        assert owner in ("node0", "node1", "node2")
        await alice.publish()
        await bob.publish()
        await alice.wait_frames(bob.peer_id)
        await bob.wait_frames(alice.peer_id)
        owner_address = cluster.live.address(int(owner[-1]))
        assert candidate_addresses(replies["alice"]) == {owner_address}
        assert candidate_addresses(replies["bob"]) == {owner_address}

        carol = await cluster.bot(2, meeting, "carol")
        await carol.join()
        await carol.publish()
        await carol.wait_frames(alice.peer_id)
        await carol.wait_frames(bob.peer_id)
        await alice.wait_frames(carol.peer_id)
        await bob.wait_frames(carol.peer_id)
        assert {p["peerId"] for p in carol.joined["peers"]} == {alice.peer_id, bob.peer_id}
        assert cluster.owner(meeting) == owner
        present = cluster.attendance(meeting)
        assert {u for u, row in present.items() if row["present"]} == {"alice", "bob", "carol"}

        await bob.leave()
        await bob.signaling.close()
        await wait_for(lambda: not cluster.attendance(meeting)["bob"]["present"],
                       what="bob marked left")
        assert cluster.attendance(meeting)["alice"]["present"]
        await alice.leave()
        await carol.leave()
    finally:
        await cluster.close_bots()
    await wait_for(lambda: cluster.owner(meeting) is None, timeout=10,
                   what="the call's ownership released after everyone left")


async def test_relayed_errors_are_the_same_as_direct_ones(cluster: Cluster) -> None:
    """A request the owner refuses gives the socket on another node the same code and message
    as a socket on the owner gets."""
    meeting = cluster.meeting("errors")
    first = await cluster.client(0, meeting, "alice")
    await first.request("rtc:join", {"displayName": "alice"})
    owner = int(cluster.owner(meeting)[-1])
    other = (owner + 1) % 3
    direct = await cluster.client(owner, meeting, "bob")
    relayed = await cluster.client(other, meeting, "carol")
    try:
        await direct.request("rtc:join", {"displayName": "bob"})
        await relayed.request("rtc:join", {"displayName": "carol"})
        errors = []
        for client in (direct, relayed):
            with pytest.raises(SignalingError) as caught:
                await client.request("rtc:connectTransport", {
                    "transportId": "nope", "dtlsParameters": {
                        "role": "client", "fingerprints": [
                            {"algorithm": "sha-256", "value": "AA:" * 31 + "AA"}]}})
            errors.append((caught.value.code, caught.value.message))
        assert errors[0] == errors[1] == ("not_found", "transport not found")
    finally:
        await asyncio.gather(first.close(), direct.close(), relayed.close())


async def test_concurrent_first_joins_on_two_nodes_give_one_call(cluster: Cluster) -> None:
    """For each of several meetings, two first joins at the same instant on two nodes end in
    one call on one owner: each peer sees the other."""
    for round_ in range(4):
        meeting = cluster.meeting(f"race {round_}")
        a = await cluster.client(round_ % 3, meeting, "alice")
        b = await cluster.client((round_ + 1) % 3, meeting, "bob")
        try:
            joined = await asyncio.gather(a.request("rtc:join", {"displayName": "a"}),
                                          b.request("rtc:join", {"displayName": "b"}))
            ids = [j["peerId"] for j in joined]
            seen_by_a = {p["peerId"] for p in joined[0]["peers"]}
            seen_by_b = {p["peerId"] for p in joined[1]["peers"]}
            if ids[1] not in seen_by_a:
                await a.wait_event("rtc:peerJoined", peerId=ids[1])
            if ids[0] not in seen_by_b:
                await b.wait_event("rtc:peerJoined", peerId=ids[0])
            assert cluster.owner(meeting) is not None
        finally:
            await asyncio.gather(a.close(), b.close())


async def test_a_socket_places_its_meeting_before_its_join(cluster: Cluster) -> None:
    """The meeting's placement starts when its first socket is accepted (beside the socket's
    own Redis and database trips): the meeting has its owner (the least loaded node) before
    any ``rtc:join``, and the joins of sockets on two nodes end in one call on that owner."""
    meeting = cluster.meeting("placed ahead")
    first = await cluster.client(1, meeting, "bob")
    try:
        owner = await eventually(lambda: cluster.owner(meeting), timeout=5,
                                 what="the meeting's owner before any rtc:join")
        assert owner in cluster.node_ids()
        second = await cluster.client(2, meeting, "carol")
        try:
            joined = await second.request("rtc:join", {"displayName": "carol"})
            assert joined["peers"] == []
            await first.request("rtc:join", {"displayName": "bob"})
            await second.wait_event("rtc:peerJoined")
            assert cluster.owner(meeting) == owner
        finally:
            await second.close()
    finally:
        await first.close()


async def test_socket_limits_count_across_nodes(cluster: Cluster) -> None:
    """RTC_MAX_SOCKETS_PER_USER is 3 on every node: erin's sockets on three nodes fill it, a
    fourth on any node is refused with 4430 (and is not left in the meeting's group), and
    closing one makes room on another node."""
    from bots.signaling import Refused

    meeting = cluster.meeting("limits")
    sockets = [await cluster.client(i, meeting, "erin") for i in range(3)]
    try:
        with pytest.raises(Refused) as refused:
            await cluster.client(0, meeting, "erin")
        assert refused.value.close_code == 4430
        # Its group add went to Redis beside its count: the refused socket left the group.
        with cluster.redis as client:
            groups = list(client.scan_iter(f"*group:meeting.{meeting}"))
            assert len(groups) == 1 and client.zcard(groups[0]) == 3
        await sockets.pop().close()

        async def another() -> Any:
            try:
                return await cluster.client(1, meeting, "erin")
            except Refused as still:  # the node has not given the shared slot back yet
                assert still.close_code == 4430
                return None

        sockets.append(await eventually(another, timeout=5, every=0.1,
                                        what="a socket on node1 once one closed on node2"))
    finally:
        await asyncio.gather(*(s.close() for s in sockets))


def _api(cluster: Cluster, node: int, method: str, path: str, user: str = "dave") -> Any:
    """``method`` ``/api/<path>`` on node ``node`` with ``user``'s API token; the JSON body
    (None for 204)."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{cluster.live.nodes[node].url}/api/{path}", method=method, data=b"" if method == "POST"
        else None, headers={"Authorization": f"Token {cluster.tokens[user]}"})
    with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310 (loopback)
        body = answer.read()
    return json.loads(body) if body else None


def _metrics(cluster: Cluster, node: int) -> str:
    import urllib.request

    request = urllib.request.Request(f"{cluster.live.nodes[node].url}/metrics",
                                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310 (loopback)
        return answer.read().decode()


async def test_every_node_shows_the_live_call_and_acts_on_it(cluster: Cluster) -> None:
    """The live-room API asked on any node shows the call, labelled with the node running
    it; staff mute a track through a node that does not run the call, and its owner gets
    rtc:producerPaused; the list on that node has it too, and its /metrics name the node."""
    meeting = cluster.meeting("one view")
    alice = await cluster.bot(0, meeting, "alice")
    try:
        await alice.join()
        await alice.publish()
        owner = cluster.owner(meeting)
        views = [await asyncio.to_thread(_api, cluster, i, "GET", f"integrations/live/{meeting}/")
                 for i in range(3)]
        assert {v["node"] for v in views} == {owner}
        assert all([p["peer_id"] for p in v["peers"]] == [alice.peer_id] for v in views)
        track = next(t for t in views[0]["peers"][0]["tracks"] if t["kind"] == "audio")
        elsewhere = next(i for i in range(3) if f"node{i}" != owner)
        muted = await asyncio.to_thread(
            _api, cluster, elsewhere, "POST",
            f"integrations/live/{meeting}/tracks/{track['id']}/mute/")
        assert muted["peer_id"] == alice.peer_id
        assert next(t for t in muted["tracks"] if t["id"] == track["id"])["paused"] is True
        await alice.signaling.wait_event("rtc:producerPaused", producerId=track["id"])
        listed = await asyncio.to_thread(_api, cluster, elsewhere, "GET", "integrations/live/")
        assert [(r["meeting_id"], r["node"]) for r in listed if r["meeting_id"] == meeting] \
            == [(meeting, owner)]
        metrics = await asyncio.to_thread(_metrics, cluster, elsewhere)
        assert f'conference_node_info{{draining="0",node="node{elsewhere}"}} 1.0' in metrics
        assert "conference_cluster_nodes 3.0" in metrics
        assert 'conference_relay_requests_total{direction="forwarded"}' in metrics
        await alice.leave()
    finally:
        await cluster.close_bots()


async def test_a_round_robin_balancer_in_front_of_the_nodes_just_works(cluster: Cluster) -> None:
    """Three users reach the service through one address (bots.balancer, a plain TCP round
    robin): each socket lands on another node, and all three share one call, everyone
    decoding everyone."""
    from bots.balancer import RoundRobinBalancer
    from bots.peer import Bot

    balancer = RoundRobinBalancer([("127.0.0.1", n.port) for n in cluster.live.nodes])
    port = await balancer.start()
    meeting = cluster.meeting("balanced")
    bots = []
    try:
        for user in ("alice", "bob", "carol"):
            bot = Bot(f"ws://127.0.0.1:{port}/ws/meetings/{meeting}/?token={cluster.tokens[user]}",
                      origin=f"http://127.0.0.1:{port}", name=user)
            bots.append(bot)
            await bot.connect()
            await bot.join()
            await bot.publish()
        assert sorted(balancer.counts.values()) == [1, 1, 1]
        for receiver in bots:
            for sender in bots:
                if sender is not receiver:
                    await receiver.wait_frames(sender.peer_id)
        for bot in bots:
            await bot.leave()
    finally:
        await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)
        await balancer.close()
