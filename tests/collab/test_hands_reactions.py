"""Raised hands and reactions over the meeting socket (in memory, like the call)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from collab.hands import HandQueues, hand_queues
from collab.schemas import REACTIONS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def pair(meeting, host_user, member_user, in_call):
    """Hazel (host) and Milo in one call."""
    hazel = await in_call(meeting, host_user, "Hazel")
    milo = await in_call(meeting, member_user, "Milo")
    return hazel, milo


async def test_hands_queue_in_order_and_everyone_sees_them(pair, meeting, make_user, in_call):
    """Milo then Hazel raise: everyone gets hand:raised once each; hand:list gives the order;
    raising twice changes nothing; a late joiner lists the same queue."""
    hazel, milo = pair
    assert await milo.ok("hand:raise") == {"raised": True, "position": 1}
    for client in (hazel, milo):
        raised = await client.event("hand:raised")
        assert raised["peerId"] == milo.joined["peerId"] and raised["displayName"] == "Milo"
    assert await hazel.ok("hand:raise") == {"raised": True, "position": 2}
    assert await milo.ok("hand:raise") == {"raised": True, "position": 1}
    await milo.event("hand:raised", peerId=hazel.joined["peerId"])
    await milo.drain()
    assert milo.saw("hand:raised") == []
    listed = (await hazel.ok("hand:list"))["hands"]
    assert [h["displayName"] for h in listed] == ["Milo", "Hazel"]


async def test_the_host_lowers_anyones_hand_a_member_only_their_own(pair):
    """Milo may not lower Hazel's hand (`forbidden`); Hazel lowers Milo's: everyone gets
    hand:lowered by the host; lowering a hand that is down is harmless."""
    hazel, milo = pair
    await milo.ok("hand:raise")
    await hazel.ok("hand:raise")
    reply = await milo.request("hand:lower", {"peerId": hazel.joined["peerId"]})
    assert reply["code"] == "forbidden"
    assert await hazel.ok("hand:lower", {"peerId": milo.joined["peerId"]}) == {
        "peerId": milo.joined["peerId"], "lowered": True}
    lowered = await milo.event("hand:lowered")
    assert lowered == {"peerId": milo.joined["peerId"], "by": "host"}
    assert (await milo.ok("hand:lower"))["lowered"] is False
    assert await hazel.ok("hand:lower") == {"peerId": hazel.joined["peerId"], "lowered": True}
    assert (await milo.event("hand:lowered", by="self"))["peerId"] == hazel.joined["peerId"]
    assert (await hazel.ok("hand:list"))["hands"] == []
    assert (await hazel.request("hand:lower", {"peerId": "nobody"}))["code"] == "not_found"


async def test_a_peer_that_leaves_takes_its_hand_with_it(pair, meeting):
    """Milo raises and leaves the call: the queue no longer lists him. Once the last socket
    of the meeting closed, nothing of its hands is kept."""
    hazel, milo = pair
    await milo.ok("hand:raise")
    await hazel.ok("hand:raise")
    await milo.ok("rtc:leave")
    await hazel.event("rtc:peerLeft")
    assert [h["displayName"] for h in (await hazel.ok("hand:list"))["hands"]] == ["Hazel"]
    await milo.ws.disconnect()
    await hazel.ws.disconnect()
    assert len(hand_queues) == 0


async def test_hands_and_reactions_need_the_call(meeting, member_user, rtc_client):
    """A socket that has not joined the call gets `invalid`; hand:list is empty."""
    milo = await rtc_client(meeting, member_user)
    assert await milo.fail("hand:raise") == "invalid"
    assert await milo.fail("reaction:send", {"emoji": "👍"}) == "invalid"
    assert await milo.ok("hand:list") == {"hands": []}


async def test_reactions_reach_everyone_and_are_bounded(pair, settings):
    """A reaction of the offered set reaches both sockets with the sender's peer id; anything
    else is `invalid`; beyond REACTION_BURST, `limit`."""
    settings.REACTION_BURST = 2
    hazel, milo = pair
    assert await milo.ok("reaction:send", {"emoji": "🎉"}) == {}
    for client in (hazel, milo):
        shown = await client.event("reaction:shown")
        assert shown == {"peerId": milo.joined["peerId"], "emoji": "🎉", "displayName": "Milo"}
    for bad in ({"emoji": "<b>"}, {"emoji": "💩"}, {}, {"emoji": "👍", "x": 1}):
        assert await milo.fail("reaction:send", bad) == "invalid", bad
    assert await milo.ok("reaction:send", {"emoji": REACTIONS[0]}) == {}
    assert await milo.fail("reaction:send", {"emoji": REACTIONS[0]}) == "limit"


def test_hand_queues_keep_order_and_prune_gone_peers():
    """The queue in isolation: order of raising, lowering, pruning against live peers."""
    queues = HandQueues()
    queues.raise_hand("m", peer_id="a", user_id=1, display_name="A")
    queues.raise_hand("m", peer_id="b", user_id=2, display_name="B")
    assert queues.raise_hand("m", peer_id="a", user_id=1, display_name="A")[1] is False
    assert [h.peer_id for h in queues.queue("m", ["a", "b"])] == ["a", "b"]
    assert [h.peer_id for h in queues.queue("m", ["b"])] == ["b"]
    assert queues.lower("m", "b") is not None and len(queues) == 0
    assert queues.lower("m", "b") is None and queues.lower("other", "x") is None
    assert queues.queue("m", []) == []


async def test_host_by_token_may_lower_hands(acme, acme_meeting, token_client):
    """A token with the host grant acts as host for hands."""
    boss = await token_client(acme_meeting, await database_sync_to_async(acme.token)(
        acme_meeting, "boss", host=True))
    guest = await token_client(acme_meeting, await database_sync_to_async(acme.token)(
        acme_meeting, "guest"))
    await boss.join("Boss")
    await guest.join("Guest")
    await guest.ok("hand:raise")
    assert (await boss.ok("hand:lower", {"peerId": guest.joined["peerId"]}))["lowered"]
