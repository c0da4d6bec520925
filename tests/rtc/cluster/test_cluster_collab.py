"""Collaboration state across live nodes: raised hands, the whiteboard and the lobby answer the
same whichever node a socket reaches, in the call or not.

Two daphne nodes on one PostgreSQL database and one Redis. The raised hands live beside the
call, on the node that owns it, so ``hand:list`` is answered there for every socket; the board
and the lobby are rows of the shared database, and their events cross nodes on the channel
layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bots.signaling import SignalingClient
from tests.rtc.cluster.conftest import Cluster, make_cluster

pytestmark = pytest.mark.django_db(transaction=False)

LOBBY_MEETING = """
import json
from django.contrib.auth import get_user_model
from meetings import services
from meetings.models import Meeting
User = get_user_model()
alice = User.objects.get(username="alice")
meeting = services.meeting_create(host=alice, title="clinic", access=Meeting.Access.LOBBY)
for name in ("bob", "carol"):
    services.participant_invite(meeting=meeting, actor=alice, username=name)
print(json.dumps({"meeting": str(meeting.id), "erin": User.objects.get(username="erin").pk}))
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Two nodes."""
    yield from make_cluster(2)


async def test_hands_board_and_lobby_read_the_same_on_every_node(cluster: Cluster) -> None:
    """alice (host) calls from node0, which places the call; bob joins from the other node
    and raises his hand there; carol, on the same node and not in the call, lists his hand,
    gets his drawing and reads it in the board; erin knocks from a tab on each node: alice's
    sockets on both nodes hear one knock and list her, the first tab closing leaves her
    waiting, and alice's admit from node1 reaches the other tab, which enters, and her socket
    on node0."""
    ids = cluster.live.shell(LOBBY_MEETING)
    meeting, erin_id = ids["meeting"], ids["erin"]
    sockets: list[SignalingClient] = []

    async def open_socket(node: int, user: str, *, waiting: bool = False) -> SignalingClient:
        client = SignalingClient(cluster.url(node, meeting, user), origin=cluster.origin(node),
                                 name=f"{user}{node}")
        sockets.append(client)
        await client.connect(wait_state=not waiting)
        return client

    try:
        alice = await open_socket(0, "alice")
        await alice.request("rtc:join", {"displayName": "Alice"})
        owner = cluster.owner(meeting)
        other = 1 - int(str(owner)[-1])
        bob = await open_socket(other, "bob")
        bob_peer = (await bob.request("rtc:join", {"displayName": "Bob"}))["peerId"]
        carol = await open_socket(other, "carol")  # in the meeting, not in the call
        carol_owner = await open_socket(1 - other, "carol")
        assert (await bob.request("hand:raise"))["position"] == 1
        await alice.wait_event("hand:raised", peerId=bob_peer)
        for client in (carol, carol_owner, alice):
            hands = (await client.request("hand:list"))["hands"]
            assert [h["peerId"] for h in hands] == [bob_peer], client.name

        element = {"id": "e-cluster-1", "type": "rect", "color": "#1d4ed8", "width": 4,
                   "x": 10, "y": 20, "w": 30, "h": 40}
        seq = (await bob.request("whiteboard:draw", {"element": element}))["seq"]
        assert (await carol.wait_event("whiteboard:op", seq=seq))["element"]["id"] == \
            "e-cluster-1"
        for client in (carol, carol_owner):
            board = await client.request("whiteboard:state")
            assert [e["id"] for e in board["elements"]] == ["e-cluster-1"]

        alice_other = await open_socket(1, "alice")  # a second host socket, not in the call
        tab0 = await open_socket(0, "erin", waiting=True)
        await tab0.wait_event("lobby:waiting")
        for host in (alice, alice_other):  # node0's knock reaches the host sockets of both
            await host.wait_event("lobby:knock", userId=erin_id)
        tab1 = await open_socket(1, "erin", waiting=True)
        await tab1.wait_event("lobby:waiting")
        for client in (alice, alice_other):
            waiting = (await client.request("lobby:list"))["waiting"]
            assert [w["userId"] for w in waiting] == [erin_id], client.name
        await tab0.close()
        await asyncio.sleep(0.5)
        assert [w["userId"] for w in (await alice.request("lobby:list"))["waiting"]] == [
            erin_id]
        knocks = [e for e in alice.events if e["type"] == "lobby:knock"]
        assert len(knocks) == 1 and not [e for e in alice.events if e["type"] == "lobby:left"]
        await alice_other.request("lobby:admit", {"userId": erin_id})
        await tab1.wait_event("lobby:admitted")
        await tab1.wait_event("meeting.state")
        await alice.wait_event("lobby:decided", userId=erin_id, admitted=True)
        assert (await alice.request("lobby:list"))["waiting"] == []
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
