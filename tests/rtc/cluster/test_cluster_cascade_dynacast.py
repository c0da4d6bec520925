"""Dynacast across a cascaded call, on two nodes in one process (real workers, the operations
and events really crossing Redis).

The sender's simulcast camera is on node a (the owner); one viewer consumes it on a, another
on node b's router of the meeting (through the proxies, as the owner drives it). What the
sender is told (``rtc:producerLayers``) must follow the remote viewer's preferred layers, its
pause and its close, as it follows a local one's.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from rtc.cluster import remote
from rtc.cluster.cascade import RemoteConsumer, pipe_between
from rtc.services.dynacast import EVENT, Dynacast
from tests.rtc.cluster import test_cluster_nodes
from tests.rtc.cluster.conftest import wait_for
from tests.rtc.cluster.test_cluster_cascade_proxies import open_link
from tests.rtc.cluster.test_cluster_nodes import Pair
from tests.support.media import simulcast_parameters

pair = test_cluster_nodes.pair
"""Two started nodes in this process (the fixture of `test_cluster_nodes`)."""

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

LOWER_DELAY = 0.3
LISTEN = [{"protocol": "udp", "ip": "127.0.0.1"}]


async def told(pair: Pair, channel: str, layer: int) -> None:
    """The next ``rtc:producerLayers`` to the sender says ``layer`` (none other before)."""
    data = await pair.event(channel, EVENT, timeout=5)
    assert data["maxSpatialLayer"] == layer, data
    assert data["spatialLayers"] == 3


async def _dynacast_over(pair: Pair, link: Any, meeting_id: str) -> tuple[Any, str, Dynacast]:
    """The owner's router of ``meeting_id`` on node a and the channel the sender is told on;
    one Dynacast following both that router and the link's router."""
    _, router = await pair.a.service.mediasoup.create_router()
    channel = await pair.layer.new_channel()
    dynacast = Dynacast(meeting_id=meeting_id, owner_channel=lambda _pid: channel,
                        start_task=pair.a.service._start_task, raise_delay=0.02,
                        lower_delay=LOWER_DELAY)
    dynacast.attach(router)
    dynacast.attach(link.router)
    return router, channel, dynacast


async def test_a_remote_viewer_enlarging_the_senders_tile_keeps_its_top_layer_on(
        pair: Pair) -> None:
    """Local viewer on a at the thumbnail layer: the sender is told layer 0. A viewer on node b
    (its consumer a proxy of b's) prefers layer 2: the sender is told 2 at once; b back to the
    thumbnail: told 0 (after the lower delay). The remote consumer's pause and its close on b
    (the event crossing back) take its wish away; b's pipe transport counts for nothing."""
    link = await open_link(pair, "m-dynacast")
    hosted = remote.hosted_of(pair.b.service)["m-dynacast"]
    router, channel, dynacast = await _dynacast_over(pair, link, "m-dynacast")

    send = await router.create_webrtc_transport(listen_infos=LISTEN)
    producer = await send.produce(kind="video", rtp_parameters=simulcast_parameters())
    local = await (await router.create_webrtc_transport(listen_infos=LISTEN)).consume(
        producer_id=producer.id, rtp_capabilities=router.rtp_capabilities)
    await local.set_preferred_layers(spatial_layer=0)
    dynacast.changed(local)
    await told(pair, channel, 0)

    room = SimpleNamespace(producer=lambda _pid: (None, producer))
    await pipe_between(room, router, link.router, producer.id)
    recv = await link.router.create_webrtc_transport(listen_infos=LISTEN)
    far = await recv.consume(producer_id=producer.id,
                             rtp_capabilities=link.router.rtp_capabilities, paused=True)
    assert isinstance(far, RemoteConsumer) and far.type == "simulcast"
    assert dynacast.state(producer.id) == {"sent": 0, "wanted": 0, "spatialLayers": 3}
    await far.resume()  # a resumed consumer at its default (top) layers wants them
    assert dynacast.state(producer.id)["wanted"] == 2
    await far.set_preferred_layers(spatial_layer=0)
    dynacast.changed(far)
    assert dynacast.state(producer.id)["wanted"] == 0

    await far.set_preferred_layers(spatial_layer=2, temporal_layer=2)
    dynacast.changed(far)
    await told(pair, channel, 2)
    assert hosted.objects[far.id].preferred_layers["spatialLayer"] == 2

    await far.set_preferred_layers(spatial_layer=0)
    dynacast.changed(far)
    await told(pair, channel, 0)

    await far.set_preferred_layers(spatial_layer=1)
    dynacast.changed(far)
    await told(pair, channel, 1)
    await far.pause()
    await told(pair, channel, 0)
    await far.resume()
    await told(pair, channel, 1)

    hosted.objects[far.id].close()  # closed on b: the owner hears it through the event
    await wait_for(lambda: far.closed, timeout=5, what="the remote close crossed back")
    await told(pair, channel, 0)
    assert dynacast.state(producer.id) == {"sent": 0, "wanted": 0, "spatialLayers": 3}

    dynacast.close()
    link.router.close()
    router.close()
    await wait_for(lambda: "m-dynacast" not in remote.hosted_of(pair.b.service), timeout=5,
                   what="b's router closed")
    assert producer.closed and local.closed


async def test_a_sender_on_the_remote_node_is_told_what_the_owners_viewers_want(
        pair: Pair) -> None:
    """The sender's transport is on node b (its producer a proxy), its viewer on node a: the
    producer is followed through b's router, the pipe consumer on b's pipe transport (which
    forwards every layer) does not count, and the local viewer's layers decide."""
    link = await open_link(pair, "m-far-sender")
    router, channel, dynacast = await _dynacast_over(pair, link, "m-far-sender")

    send = await link.router.create_webrtc_transport(listen_infos=LISTEN)
    producer = await send.produce(kind="video", rtp_parameters=simulcast_parameters())
    assert dynacast.state(producer.id) == {"sent": 2, "wanted": 0, "spatialLayers": 3}
    await told(pair, channel, 0)  # nobody consumes it yet

    room = SimpleNamespace(producer=lambda _pid: (None, producer))
    await pipe_between(room, link.router, router, producer.id)
    assert dynacast.state(producer.id)["wanted"] == 0
    viewer = await (await router.create_webrtc_transport(listen_infos=LISTEN)).consume(
        producer_id=producer.id, rtp_capabilities=router.rtp_capabilities)
    await viewer.set_preferred_layers(spatial_layer=1)
    dynacast.changed(viewer)
    await told(pair, channel, 1)
    viewer.close()
    await told(pair, channel, 0)

    dynacast.close()
    producer.close()
    link.router.close()
    router.close()
    await wait_for(lambda: "m-far-sender" not in remote.hosted_of(pair.b.service), timeout=5,
                   what="b's router closed")
