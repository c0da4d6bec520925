"""Two cluster nodes in one process: placement, relay, ownership, presence, limits, drain.

Each node has its own RoomService with a real worker, and both share the machine's Redis
(``CLUSTER_TEST_REDIS_URL``, database 6) as their store and channel layer, under a key prefix
of this test's own. Relayed requests really cross Redis: the socket's node sends them to the
owner's relay channel and waits for its reply there.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from mediasoup_ctl import worker_bin_path

from conference.clock import ManualClock
from meetings.models import Participant
from rtc import cluster
from rtc.cluster import placement
from rtc.cluster.limits import take_shared
from rtc.cluster.node import Node, default_node_id
from rtc.lifecycle.health import check_node
from rtc.policy.attendance import attendance
from rtc.services.mediasoup_service import MediasoupService
from rtc.services.room_service import RoomService
from rtc.websocket.limits import SocketLimit, SocketSlot, open_sockets
from tests.rtc.cluster.conftest import REDIS_URL
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@dataclass
class Pair:
    """Nodes ``a`` and ``b`` (``a`` is this process's local node)."""

    a: Node
    b: Node
    redis: Any
    layer: Any

    def conn(self, meeting: Any, user: Any, channel: str, **extra: Any) -> Any:
        """A socket's connection on node a as the handlers see it (its calls run on node a's
        RoomService when they run locally)."""
        return SimpleNamespace(user=user, meeting_id=str(meeting.id), channel_name=channel,
                               join_grant=None, flooded=False, leaving=False,
                               room_service=self.a.service, **extra)

    async def event(self, channel: str, event: str, timeout: float = 10) -> dict[str, Any]:
        """The next event of type ``event`` sent to ``channel``."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.layer.receive(channel)
                if message.get("event") == event:
                    return message.get("data") or {}


@pytest.fixture
async def pair(settings: Any) -> AsyncIterator[Pair]:
    """Two started nodes on real workers; everything stopped, closed and deleted afterwards."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    prefix = f"conf-cluster-test-{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL = REDIS_URL
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "conference.channel_layers.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}], "prefix": prefix}}}
    settings.CLUSTER = {"ENABLED": True, "LEASE_SECONDS": 2, "RELAY_TIMEOUT_SECONDS": 3,
                        "DRAIN_SECONDS": 1}
    settings.RTC_LIMITS = {"RECONNECT_GRACE_SECONDS": 0, "TRANSPORT_CONNECT_TIMEOUT_SECONDS": 0}
    channel_layers.backends.clear()
    layer = get_channel_layer()
    redis = aioredis.from_url(REDIS_URL)
    services = [RoomService(MediasoupService(num_workers=1)) for _ in range(2)]
    nodes = [await cluster.make_node(redis=redis, service=s, layer=layer, node_id=name)
             for s, name in zip(services, ("a-node", "b-node"), strict=True)]
    for node in nodes:
        await node.start()
        await node.service.mediasoup.start()
    for node in nodes:
        await node.heartbeat()
    previous = cluster.set_local_node(nodes[0])
    try:
        yield Pair(nodes[0], nodes[1], redis, layer)
    finally:
        cluster.set_local_node(previous)
        attendance.listener = None
        for node in nodes:
            await node.stop()
            await node.service.close()
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        channel_layers.backends.clear()


def test_placement_prefers_the_least_loaded_node_that_can_take_a_call() -> None:
    """Draining, full and worker-less nodes are never chosen; load per worker decides, the
    node id breaks ties."""
    records = {
        "n1": {"workers": "2", "capacity": "10", "rooms": "2", "peers": "4", "consumers": "8"},
        "n2": {"workers": "1", "capacity": "5", "rooms": "0", "peers": "0", "consumers": "0",
               "draining": "1"},
        "n3": {"workers": "1", "capacity": "1", "rooms": "1"},
        "n4": {"workers": "0", "capacity": "0"},
        "n5": {"workers": "4", "capacity": "20", "rooms": "2", "peers": "4", "consumers": "8"},
        "n6": {"workers": "x"},
    }
    assert placement.choose(records) == "n5"
    assert placement.choose(records, exclude=frozenset({"n5"})) == "n1"
    assert placement.choose({"b": {"workers": "1", "capacity": "3"},
                             "a": {"workers": "1", "capacity": "3"}}) == "a"
    assert placement.choose({k: records[k] for k in ("n2", "n3", "n4", "n6")}) is None
    assert default_node_id() != default_node_id()


async def test_concurrent_first_joins_on_two_nodes_agree_on_one_owner(pair: Pair) -> None:
    """The same meeting placed at the same instant from both nodes gets one owner, recorded
    in Redis under the lease; a draining node is never given a new call."""
    meetings = [str(uuid.uuid4()) for _ in range(20)]
    owners = await asyncio.gather(*(asyncio.gather(pair.a.place(m), pair.b.place(m))
                                    for m in meetings))
    assert all(x == y for x, y in owners)
    assert {x for x, _ in owners} <= {"a-node", "b-node"}
    assert await pair.a.store.owner(meetings[0]) == owners[0][0]
    assert 0 < await pair.redis.pttl(pair.a.store.owner_key(meetings[0])) <= 2000
    await pair.b.drain()
    fresh = [str(uuid.uuid4()) for _ in range(5)]
    assert {await pair.a.place(m) for m in fresh} == {"a-node"}
    assert (await check_node()) == {"ok": True, "cluster": True, "node": "a-node",
                                    "lease": True, "draining": False, "nodes": 2}
    for meeting in meetings + fresh:
        for node in (pair.a, pair.b):
            await node.store.release(meeting, node.id)


@database_sync_to_async
def _present_row(meeting: Any, user: Any) -> Participant:
    from meetings import services

    return services.participant_mark_joined(meeting=meeting, user=user)


@database_sync_to_async
def _left_at(meeting: Any, user: Any) -> Any:
    return Participant.objects.get(meeting=meeting, user=user).left_at


async def test_presence_is_mirrored_and_a_dead_nodes_users_are_marked_left(
        pair: Pair, meeting: Any, host_user: Any, member_user: Any) -> None:
    """The attendance table of the local node is mirrored in Redis; a leave is not written
    while another live node holds the user; the users held only by a node whose lease ran
    out are marked left by the node that notices it, those another live node holds stay."""
    presence = pair.b.presence  # the last node started listens to the process's table
    attendance.hold(meeting.id, host_user.pk, "chan-1")
    await presence.flush()
    member = f"{meeting.id}|{host_user.pk}"
    assert await pair.redis.sismember(presence.key("b-node"), member)
    assert await pair.a.presence.elsewhere(meeting.id, host_user.pk)
    assert attendance.release(meeting.id, host_user.pk, "chan-1")
    await presence.flush()
    assert not await pair.a.presence.elsewhere(meeting.id, host_user.pk)

    await _present_row(meeting, member_user)
    await _present_row(meeting, host_user)
    attendance.hold(meeting.id, host_user.pk, "chan-3")  # the host also on the live node b
    await presence.flush()
    ghost = pair.a.presence.key("ghost-node")
    await pair.redis.sadd(ghost, f"{meeting.id}|{member_user.pk}", f"{meeting.id}|{host_user.pk}")
    await pair.redis.sadd(pair.a.store.index_key, "ghost-node")
    await pair.a.heartbeat()  # finds ghost-node's lease gone
    assert await _left_at(meeting, member_user) is not None
    assert await _left_at(meeting, host_user) is None  # still held by b
    assert not await pair.redis.exists(ghost)
    assert attendance.release(meeting.id, host_user.pk, "chan-3")

    attendance.hold(meeting.id, member_user.pk, "chan-2")
    await presence.flush()
    assert await pair.redis.exists(presence.key("b-node"))
    await pair.b.stop()  # a clean stop: nobody is held by b any more
    assert not await pair.redis.exists(presence.key("b-node"))
    assert attendance.release(meeting.id, member_user.pk, "chan-2")


def _count_claims(node: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The meetings ``node`` asks Redis to place from now on (its claims, counted)."""
    asked: list[str] = []
    real = node.store.claim_or_owner

    async def counted(meeting_id: str, candidate: str) -> Any:
        asked.append(meeting_id)
        return await real(meeting_id, candidate)

    monkeypatch.setattr(node.store, "claim_or_owner", counted)
    return asked


async def test_the_owner_places_its_calls_without_redis_while_its_lease_surely_holds(
        manual_clock: ManualClock, pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """A join on the node whose call it is asks Redis nothing while its claim or last
    heartbeat is less than half a lease old; the other node still asks Redis (and gets the
    owner). When the owner's heartbeat can no longer write (Redis unreachable for it), a
    stalled beat or a drain, the owner asks Redis again; a closed room keeps its claim only
    for the rest of the window (no heartbeat renews a meeting without a room)."""
    meeting = str(uuid.uuid4())
    assert await pair.a.place(meeting) == "a-node"
    await pair.a.service._room_for(meeting, 10)
    assert pair.a.owns(meeting) and not pair.b.owns(meeting)
    asked = _count_claims(pair.a, monkeypatch)
    assert [await pair.a.place(meeting) for _ in range(3)] == ["a-node"] * 3
    assert asked == []
    assert await pair.b.place(meeting) == "a-node"

    async def unreachable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Redis unreachable for this node")

    monkeypatch.setattr(pair.a.store, "publish", unreachable)
    await manual_clock.advance(pair.a.sure_for + 0.2)  # the heartbeats fail meanwhile
    assert not pair.a.owns(meeting)
    assert await pair.a.place(meeting) == "a-node" and asked == [meeting]
    monkeypatch.undo()
    await pair.a.heartbeat()
    assert pair.a.owns(meeting)
    await pair.a.service.close_rooms(reason="test", meeting_ids={meeting})
    assert meeting not in pair.a.service.rooms and pair.a.owns(meeting)
    assert await pair.b.place(meeting) == "a-node"  # the owner key still stands in Redis
    await pair.a.heartbeat()  # renews the meetings with a room here: not this one
    assert not pair.a.owns(meeting)
    other = str(uuid.uuid4())
    assert await pair.a.place(other) == "a-node"
    await pair.a.service._room_for(other, 10)
    assert pair.a.owns(other)
    await pair.a.drain()
    assert not pair.a.owns(other)


async def test_joins_of_a_new_call_asking_together_share_one_placement(
        pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten first joins of a meeting with no call yet ask at once: one claim goes to Redis,
    all ten get its owner; the next join after it asks nothing (the claim is this node's
    and surely stands for half a lease); another node's joins ask Redis and get it too."""
    meeting = str(uuid.uuid4())
    asked = _count_claims(pair.a, monkeypatch)
    owners = await asyncio.gather(*(pair.a.place(meeting) for _ in range(10)))
    assert owners == ["a-node"] * 10
    assert asked == [meeting]
    assert await pair.a.place(meeting) == "a-node"
    assert asked == [meeting]
    assert pair.a._placing == {}
    assert await pair.b.place(meeting) == "a-node"


async def test_a_placement_made_ahead_is_shared_by_the_join_and_lapses_without_a_room(
        manual_clock: ManualClock, pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """``place_ahead`` (a socket was accepted) starts the claim without waiting; a join asking
    while it is out shares it, and one asking after it asks Redis nothing. Once the window
    passed with no room opened here (its socket refused, say), the claim is no longer sure
    and the next join asks Redis again."""
    meeting = str(uuid.uuid4())
    asked = _count_claims(pair.a, monkeypatch)
    pair.a.place_ahead(meeting)
    assert meeting in pair.a._placing and asked == []  # started, not yet sent
    assert await pair.a.place(meeting) == "a-node"
    assert asked == [meeting] and pair.a._placing == {}
    pair.a.place_ahead(meeting)  # surely owned: nothing to do
    assert pair.a._placing == {}
    assert await pair.a.place(meeting) == "a-node" and asked == [meeting]
    await manual_clock.advance(pair.a.sure_for + 0.2)  # heartbeats renew no room-less claim
    assert not pair.a.owns(meeting)
    assert await pair.a.place(meeting) == "a-node" and asked == [meeting, meeting]


async def test_sockets_counted_at_once_are_decided_in_turn(pair: Pair, monkeypatch) -> None:
    """Eight sockets of one user asking at once (one Redis call for those that came while
    the first was out): the limit of five lets exactly five in, each of the others refused on
    the user's count, which stays five in Redis. The five closing at once are given back in
    one or two calls (the first may go alone), not five."""
    cluster.set_local_node(pair.a)
    releases: list[list[str]] = []
    real_release = pair.a.store.release_sockets

    async def counted(incarnation: str, keys: list[str]) -> None:
        releases.append(keys)
        await real_release(incarnation, keys)

    monkeypatch.setattr(pair.a.store, "release_sockets", counted)
    user = f"u-{uuid.uuid4().hex[:6]}"
    slots = [open_sockets.acquire(user_id=user, address="10.9.9.9", max_per_user=99,
                                  max_per_address=99) for _ in range(8)]
    assert all(isinstance(slot, SocketSlot) for slot in slots)
    outcomes = await asyncio.gather(*(take_shared(slot, max_per_user=5, max_per_address=50)
                                      for slot in slots))
    assert outcomes.count(None) == 5
    assert outcomes.count(SocketLimit.USER) == 3
    key = pair.a.store.counter_key("user", user)
    assert await pair.a.store.socket_count(key) == 5
    for slot, outcome in zip(slots, outcomes, strict=True):
        if outcome is None:
            open_sockets.release(slot)

    async def all_given_back() -> bool:
        return await pair.a.store.socket_count(key) == 0

    await eventually(all_given_back, timeout=2, what="the five slots given back in Redis")
    assert len(releases) <= 2 and sum(len(keys) for keys in releases) == 10, releases


async def test_socket_limits_count_the_sockets_of_every_node(pair: Pair) -> None:
    """A user at MAX_SOCKETS_PER_USER with sockets on two nodes is refused a third on either;
    a socket given back makes room again, and a refused socket holds no local slot."""
    user = f"u-{uuid.uuid4().hex[:6]}"
    slots = []
    for node in (pair.a, pair.b):
        cluster.set_local_node(node)
        slot = open_sockets.acquire(user_id=user, address="10.1.2.3", max_per_user=9,
                                    max_per_address=9)
        assert isinstance(slot, SocketSlot)
        assert await take_shared(slot, max_per_user=2, max_per_address=5) is None
        slots.append(slot)
    third = open_sockets.acquire(user_id=user, address="10.1.2.4", max_per_user=9,
                                 max_per_address=9)
    assert isinstance(third, SocketSlot)
    assert await take_shared(third, max_per_user=2, max_per_address=5) is SocketLimit.USER
    assert third.released and open_sockets.of_user(user) == 2
    key = pair.a.store.counter_key("user", user)
    assert await pair.a.store.socket_count(key) == 2
    open_sockets.release(slots[0])
    async def given_back() -> bool:
        return await pair.a.store.socket_count(key) == 1

    await eventually(given_back, timeout=1, what="the slot given back in Redis")
    again = open_sockets.acquire(user_id=user, address="10.1.2.3", max_per_user=9,
                                 max_per_address=9)
    assert await take_shared(again, max_per_user=2, max_per_address=1) is SocketLimit.ADDRESS
    retry = open_sockets.acquire(user_id=user, address=None, max_per_user=9, max_per_address=9)
    assert await take_shared(retry, max_per_user=2, max_per_address=1) is None
    for slot in (slots[1], retry):
        open_sockets.release(slot)
    cluster.set_local_node(pair.a)
    assert open_sockets.of_user(user) == 0


async def test_a_socket_over_the_clusters_limit_is_refused_before_its_join_is_written(
        pair: Pair, settings: Any, open_meeting: Any, member_user: Any,
        ws_communicator: Any) -> None:
    """A user whose one allowed socket is open on node b opens another on node a: its
    cluster-wide count (a Redis trip beside its group add, both before the join's database
    trip) refuses it with ``too_many_sockets`` and 4430; no join is written, nothing is held
    or counted, and the socket is in no group."""
    import json

    from rtc.websocket.envelope import CloseCode

    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "MAX_SOCKETS_PER_USER": 1}
    key = pair.b.store.counter_key("user", str(member_user.pk))
    assert await pair.b.store.acquire_sockets_many(pair.b.incarnation, [[(key, 1)]]) == [0]
    socket_ = await ws_communicator(open_meeting.id, user=member_user)
    connected, _ = await socket_.connect(timeout=10)
    assert connected
    refusal = json.loads((await socket_.receive_output(timeout=10))["text"])
    assert refusal["type"] == "error" and refusal["data"]["code"] == "too_many_sockets"
    closed = await socket_.receive_output(timeout=10)
    assert (closed["type"], closed["code"]) == ("websocket.close", CloseCode.TOO_MANY_SOCKETS)
    assert not await Participant.objects.filter(meeting=open_meeting,
                                                joined_at__isnull=False).aexists()
    assert not attendance.present(open_meeting.id, member_user.pk)
    assert open_sockets.of_user(member_user.pk) == 0
    assert await pair.a.store.socket_count(key) == 1  # node b's socket only
    assert not pair.layer.local_members(f"meeting.{open_meeting.id}")


async def test_start_and_stop_follow_the_settings(settings: Any, pair: Pair) -> None:
    """start_node does nothing without the cluster setting; stop_node takes the record out of
    Redis at once."""
    previous = cluster.set_local_node(None)
    settings.CLUSTER = {**settings.CLUSTER, "ENABLED": False}
    assert await cluster.start_node() is None
    settings.CLUSTER = {**settings.CLUSTER, "ENABLED": True, "NODE_ID": "c-node"}
    node = await cluster.start_node(redis=pair.redis, service=pair.a.service, layer=pair.layer)
    assert node is not None and cluster.local_node() is node and node.id == "c-node"
    assert await cluster.start_node() is node
    assert await pair.redis.exists(node.store.node_key("c-node"))
    await cluster.stop_node()
    assert cluster.local_node() is None
    assert not await pair.redis.exists(node.store.node_key("c-node"))
    assert await cluster.drain_node() == 0
    cluster.set_local_node(previous)


async def test_operator_views_and_actions_reach_the_node_running_the_call(
        pair: Pair, meeting: Any, host_user: Any) -> None:
    """A call owned by node b, operated from node a: the host's join is relayed to b; the
    live snapshot and the admin overview list it labelled ``b-node``; a grant change runs on
    b (the socket gets rtc:grantsUpdated) and is recorded for every node; a removal runs on b;
    refusals come back with their codes; an unknown operation is refused; a node that never
    answers is named missing, and a call waiting for a node that left fails at the next
    heartbeat, not at the relay timeout."""
    from integrations import live_rooms
    from rtc.cluster.ops import on_every_node, on_owner
    from rtc.policy.grants import grant_store
    from rtc.signaling.errors import SignalingError
    from rtc.websocket.envelope import Envelope

    meeting_id = str(meeting.id)
    assert await pair.b.store.claim(meeting_id, "b-node") == "b-node"
    channel = await pair.layer.new_channel()
    conn = pair.conn(meeting, host_user, channel)
    joined = await cluster.route_request(conn, "rtc:join", Envelope(
        type="rtc:join", data={"displayName": "Hosting"}, request_id="r1"))
    assert joined is not None and meeting_id in pair.b.service.rooms
    assert meeting_id not in pair.a.service.rooms
    peer_id = joined["peerId"]

    rooms = await live_rooms.snapshot()
    assert [(r["meeting_id"], r["node"], [p["peer_id"] for p in r["peers"]])
            for r in rooms] == [(meeting_id, "b-node", [peer_id])]
    overview = await on_every_node("live.overview")
    assert overview.missing == []
    assert {node: [r["meetingId"] for r in part["rooms"]] for node, part in overview.answers} \
        == {"a-node": [], "b-node": [meeting_id]}

    changed = await live_rooms.update_grants(meeting_id, peer_id, {"chat": False},
                                                    actor="ops")
    assert changed["grants"]["chat"] is False
    assert (await pair.event(channel, "rtc:grantsUpdated"))["grants"]["chat"] is False
    remembered = grant_store.get(meeting_id, host_user.pk)
    assert remembered is not None and remembered.chat is False

    with pytest.raises(SignalingError) as refused:
        await live_rooms.mute_track(meeting_id, "no-such-producer", actor="ops")
    assert refused.value.code == "not_found"
    with pytest.raises(SignalingError) as unknown:
        await pair.a.relay.ask("b-node", "no.such.operation", {})
    assert unknown.value.code == "invalid"

    removed = await live_rooms.remove_peer(meeting_id, peer_id, actor="ops")
    assert (removed["peer_id"], removed["display_name"]) == (peer_id, "Hosting")  # the peer gone
    assert (await pair.event(channel, "rtc:removed"))
    assert await on_owner(meeting_id, "live.end", meeting_id=meeting_id) == 0

    silent = await pair.layer.new_channel()  # a node whose relay nobody reads, not in Redis
    pair.a.records["ghost-node"] = {"channel": silent}
    waiting = asyncio.ensure_future(pair.a.relay.ask("ghost-node", "live.overview", {}))
    with pytest.raises(SignalingError, match="gone"):  # the next heartbeat (0.5 s), not 3 s
        await asyncio.wait_for(waiting, 1.5)
    pair.a.records["ghost-node"] = {"channel": silent}
    view = await on_every_node("live.overview")
    assert view.missing == ["ghost-node"] and len(view.answers) == 2
    pair.a.records.pop("ghost-node", None)
