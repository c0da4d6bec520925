"""The cascade's proxies and cross-node pipe, on two nodes in one process (real workers, the
operations really crossing Redis): what the owner drives, the other node really holds.

Node a owns; node b holds the meeting's remote router (`rtc.cluster.remote`). RTP is sent
from Python into a DirectTransport producer on a's router and counted on b.
"""

from __future__ import annotations

import asyncio
import struct
import time
from types import SimpleNamespace
from typing import Any

import pytest

from rtc.cluster import ops, placement, remote
from rtc.cluster.cascade import (
    Link,
    RemoteProducer,
    links_of,
    pipe_between,
    remote_router,
    shunned,
)
from rtc.signaling.errors import SignalingError
from tests.rtc.cluster import test_cluster_nodes
from tests.rtc.cluster.conftest import wait_for
from tests.rtc.cluster.test_cluster_nodes import Pair

pair = test_cluster_nodes.pair
"""Two started nodes in this process (the fixture of `test_cluster_nodes`)."""

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

SSRC = 0x1234
OPUS = {"codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000,
                    "channels": 2}],
        "encodings": [{"ssrc": SSRC}], "rtcp": {"cname": "cascade-test"}}


def rtp_packet(seq: int) -> bytes:
    """One Opus RTP packet of silence."""
    return struct.pack("!BBHII", 0x80, 100, seq, 960 * seq, SSRC) + b"\xf8\xff\xfe"


async def open_link(pair: Pair, meeting: str) -> Link:
    """Node a claims node b and opens the meeting's router there, as
    `cascade.remote_router` does."""
    assert await pair.a.store.claim_cascade(meeting, pair.b.id, pair.a.id)
    answer = await pair.a.relay.ask(pair.b.id, "cascade.open",
                                    {"meeting_id": meeting, "owner": pair.a.id})
    link = Link(pair.a.service, meeting, pair.b.id, answer)
    links_of(pair.a.service)[(meeting, pair.b.id)] = link
    return link


async def test_a_producer_crosses_to_the_other_node_over_an_srtp_pipe(pair: Pair) -> None:
    """A producer on a's router is piped to b's: b holds an SRTP pipe transport and a pipe
    producer with the producer's id that receives the RTP sent on a; pausing the producer on
    a pauses b's pipe producer, closing it closes b's (and the owner's proxy says so); a
    transport made through the proxy listens on b's own address (the owner's listen infos are
    ignored); closing the remote router leaves b holding nothing."""
    link = await open_link(pair, "m-pipe")
    hosted = remote.hosted_of(pair.b.service)["m-pipe"]
    assert hosted.router.id == link.router.id and hosted.owner == pair.a.id
    _, router = await pair.a.service.mediasoup.create_router()
    direct = await router.create_direct_transport()
    producer = await direct.produce(kind="audio", rtp_parameters=OPUS)
    room = SimpleNamespace(producer=lambda pid: (None, producer))

    piped = await pipe_between(room, router, link.router, producer.id)
    assert isinstance(piped, RemoteProducer) and piped.id == producer.id
    real = hosted.objects[producer.id]
    pipes = [o for o in hosted.objects.values() if getattr(o, "type", "") == "pipe"
             and hasattr(o, "router_id")]
    assert len(pipes) == 1 and pipes[0].srtp_parameters is not None
    assert remote.hosted_counts(pair.b.service) == {"cascade_routers": 1,
                                                    "cascade_transports": 0, "cascade_pipes": 1}
    for seq in range(40):
        producer.send(rtp_packet(seq))

    async def received() -> Any:
        stats = await piped.get_stats()
        return stats and stats[0].get("packetCount", 0) >= 30

    await wait_for(received, timeout=10, what="RTP counted on node b's pipe producer")

    await producer.pause()
    await wait_for(lambda: real.paused, timeout=5, what="pause crossed the pipe")
    producer.close()
    await wait_for(lambda: real.closed and piped.closed, timeout=5,
                   what="b's pipe producer and its proxy closed with the producer")
    assert producer.id not in hosted.objects

    transport = await link.router.create_webrtc_transport(
        listen_infos=[{"protocol": "udp", "ip": "10.9.9.9"}], enable_udp=True,
        app_data={"direction": "recv"})
    assert {c["address"] for c in transport.ice_candidates} == {"127.0.0.1"}
    assert transport.app_data == {"direction": "recv"} and transport.dtls_state == "new"
    assert remote.hosted_counts(pair.b.service)["cascade_transports"] == 1
    transport.close()
    await wait_for(lambda: remote.hosted_counts(pair.b.service)["cascade_transports"] == 0,
                   timeout=5, what="transport closed on b")

    link.router.close()
    await wait_for(lambda: "m-pipe" not in remote.hosted_of(pair.b.service), timeout=5,
                   what="b's router closed")
    assert hosted.router.closed and pipes[0].closed
    assert not links_of(pair.a.service)
    router.close()


async def test_a_claim_refuses_draining_and_gone_nodes_and_a_gone_owner_frees_its_media(
        pair: Pair) -> None:
    """The cascade claim takes a live node (recorded for the meeting), refuses a draining or
    unknown one; a node holding media for an owner that left the cluster closes it."""
    store = pair.a.store
    assert await store.claim_cascade("m-claim", pair.b.id, pair.a.id)
    assert await store.cascades("m-claim") == {pair.b.id: pair.a.id}
    assert not await store.claim_cascade("m-claim", "no-such-node", pair.a.id)
    await store.set_fields(pair.b.id, {"draining": 1})
    assert not await store.claim_cascade("m-other", pair.b.id, pair.a.id)
    await store.set_fields(pair.b.id, {"draining": 0})
    await store.release_cascade("m-claim", pair.b.id)
    assert await store.cascades("m-claim") == {}

    await open_link(pair, "m-orphan")
    assert "m-orphan" in remote.hosted_of(pair.b.service)
    pair.b.records.pop(pair.a.id)  # as b's heartbeat sees it once a's lease ran out
    assert remote.watch_owners(pair.b) == 1
    assert "m-orphan" not in remote.hosted_of(pair.b.service)


async def test_a_draining_node_gives_its_cascaded_routers_back(pair: Pair) -> None:
    """Node b drains while it holds a router for a's meeting: it closes it and a hears it as a
    lost router at once (its link to b is dropped), without waiting for b to leave."""
    link = await open_link(pair, "m-drain")
    await pair.b.drain()
    assert "m-drain" not in remote.hosted_of(pair.b.service)
    await wait_for(lambda: link.closed and link.router.closed, timeout=5,
                   what="the owner dropped its link to the draining node")
    assert not links_of(pair.a.service)


async def test_a_hanging_node_costs_the_cascade_timeout_once_and_keeps_nothing(
        pair: Pair, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Node b keeps its lease but does not answer in time: claiming it for a call gives up
    after ``CASCADE_TIMEOUT_SECONDS`` (not the relay's timeout), releases the claim and does not
    ask b again for the next peer; b's router opened after the owner gave up is closed at once
    (the claim is gone). A remote object's method waits the same short timeout."""
    settings.CLUSTER = {**settings.CLUSTER, "CASCADE_TIMEOUT_SECONDS": 0.5}
    await pair.b.heartbeat()  # b's record says its worker (started after the first beat)
    await pair.a.heartbeat()
    assert placement.choose(pair.a.records, exclude=frozenset({pair.a.id})) == pair.b.id
    real_open = ops.OPERATIONS["cascade.open"]
    asked: list[str] = []
    answer_open, late_open_done = asyncio.Event(), asyncio.Event()

    async def slow_open(**kwargs: Any) -> Any:
        asked.append(kwargs["meeting_id"])
        await answer_open.wait()  # b hangs until the test lets it answer, too late
        try:
            return await real_open(**kwargs)
        finally:
            late_open_done.set()

    monkeypatch.setitem(ops.OPERATIONS, "cascade.open", slow_open)
    room = SimpleNamespace(meeting_id="m-hang", routers=[], closed=False, dynacast=None,
                           add_router=lambda *_: None)
    started = time.monotonic()
    assert await remote_router(pair.a.service, room, {}, 1) is None
    assert time.monotonic() - started < 2.0  # the fixture's relay timeout is 3 s
    assert await pair.a.store.cascades("m-hang") == {}
    started = time.monotonic()
    assert await remote_router(pair.a.service, room, {}, 1) is None
    assert time.monotonic() - started < 0.3 and asked == ["m-hang"]  # b not asked again
    answer_open.set()
    await asyncio.wait_for(late_open_done.wait(), 5)  # b's late open ran, saw no claim
    await wait_for(lambda: "m-hang" not in remote.hosted_of(pair.b.service), timeout=5,
                   what="b closed the router it opened too late")

    monkeypatch.setitem(ops.OPERATIONS, "cascade.open", real_open)
    shunned(pair.a.service).clear()
    router = await remote_router(pair.a.service, room, {}, 1)
    assert router is not None and await pair.a.store.cascades("m-hang") == {
        pair.b.id: pair.a.id}

    real_call = ops.OPERATIONS["cascade.call"]
    answer_call = asyncio.Event()

    async def stuck_call(**kwargs: Any) -> Any:
        await answer_call.wait()  # b answers only after the owner gave up
        return await real_call(**kwargs)

    monkeypatch.setitem(ops.OPERATIONS, "cascade.call", stuck_call)
    started = time.monotonic()
    with pytest.raises(SignalingError):
        await router.create_webrtc_transport(app_data={})
    assert time.monotonic() - started < 2.0
    answer_call.set()
    monkeypatch.setitem(ops.OPERATIONS, "cascade.call", real_call)
    router.close()
    await wait_for(lambda: "m-hang" not in remote.hosted_of(pair.b.service), timeout=5,
                   what="b's router closed")
    assert not links_of(pair.a.service)
