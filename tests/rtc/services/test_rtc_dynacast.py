"""Dynacast over a real meeting socket and worker: the owner of a simulcast producer is told
(``rtc:producerLayers``) the highest spatial layer its consumers prefer, raised at once, lowered
only after the lower delay, never for audio or a single-stream video; a shared screen's
consumers get a higher bandwidth priority than cameras."""

from __future__ import annotations

from typing import Any

import pytest

from meetings import services
from rtc.services.dynacast import wanted_spatial_layer
from tests.rtc.conftest import video_parameters
from tests.support.media import simulcast_parameters

pytestmark = pytest.mark.django_db(transaction=True)

LOWER_DELAY = 0.6


@pytest.fixture(autouse=True)
def fast_dynacast(settings: Any) -> None:
    """Short delays so the test sees the lowering within a second."""
    settings.RTC_DYNACAST = {"RAISE_DELAY": 0.02, "LOWER_DELAY": LOWER_DELAY}


@pytest.fixture
def third(meeting, host_user, make_user):
    """A second member invited to `meeting`."""
    user = make_user("tess")
    services.participant_invite(meeting=meeting, actor=host_user, username=user.username)
    return user


@pytest.fixture
async def call(rtc_client, meeting, host_user, member_user, third):
    """The host (sending a simulcast camera) and two members, all joined."""
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    other = await rtc_client(meeting, third)
    await host.join("Hazel")
    await member.join("Milo")
    await other.join("Tess")
    send = await host.transport("send")
    produced = await host.ok("rtc:produce", {
        "transportId": send, "kind": "video", "rtpParameters": simulcast_parameters(),
        "appData": {"source": "webcam"}})
    return host, member, other, produced["id"]


async def consume(client, producer_id: str) -> str:
    """A resumed consumer of ``producer_id`` on a new recv transport of ``client``."""
    consumed = await client.consume(await client.transport("recv"), producer_id)
    assert consumed["consumerType"] == "simulcast"
    await client.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    return consumed["id"]


async def prefer(client, consumer_id: str, spatial: int) -> None:
    await client.ok("rtc:setPreferredLayers", {"consumerId": consumer_id,
                                               "spatialLayer": spatial, "temporalLayer": 2})


async def test_nobody_consuming_leaves_only_the_lowest_layer(rtc_service, call):
    """A camera nobody receives is told, after the lower delay, to keep only layer 0."""
    host, _, _, producer = call
    event = await host.event("rtc:producerLayers", timeout=LOWER_DELAY * 5)
    assert event == {"producerId": producer, "maxSpatialLayer": 0, "spatialLayers": 3}


async def test_layers_follow_what_consumers_prefer(rtc_service, call):
    """Raised as soon as a consumer wants more; lowered to the highest any consumer still
    prefers; a paused or closed consumer wants nothing."""
    host, member, other, producer = call
    assert (await host.event("rtc:producerLayers"))["maxSpatialLayer"] == 0
    first = await consume(member, producer)  # a new consumer prefers the top layer
    raised = await host.event("rtc:producerLayers", timeout=1)
    assert raised["maxSpatialLayer"] == 2
    second = await consume(other, producer)
    await prefer(member, first, 0)
    await prefer(other, second, 1)
    lowered = await host.event("rtc:producerLayers", timeout=LOWER_DELAY * 5)
    assert lowered["maxSpatialLayer"] == 1, "the highest layer any consumer still prefers"
    await other.ok("rtc:pauseConsumer", {"consumerId": second})
    assert (await host.event("rtc:producerLayers", timeout=LOWER_DELAY * 5))[
        "maxSpatialLayer"] == 0
    await other.ok("rtc:resumeConsumer", {"consumerId": second})
    assert (await host.event("rtc:producerLayers", timeout=1))["maxSpatialLayer"] == 1
    await prefer(member, first, 2)  # someone enlarges the tile
    assert (await host.event("rtc:producerLayers", timeout=1))["maxSpatialLayer"] == 2
    await member.ok("rtc:closeConsumer", {"consumerId": first})
    assert (await host.event("rtc:producerLayers", timeout=LOWER_DELAY * 5))[
        "maxSpatialLayer"] == 1
    room = next(iter(rtc_service.rooms.values()))
    assert room.dynacast.state(producer) == {"sent": 1, "wanted": 1, "spatialLayers": 3}
    await member.drain()
    assert member.saw("rtc:producerLayers") == [], "only the sender is told"


async def test_a_tile_resized_back_and_forth_does_not_flap(rtc_service, call, manual_clock):
    """A drop undone within the lower delay sends nothing: the sender keeps its encoder."""
    host, member, _, producer = call
    assert (await host.event("rtc:producerLayers"))["maxSpatialLayer"] == 0
    consumer = await consume(member, producer)
    await manual_clock.advance(0.02)  # the raise delay
    assert (await host.event("rtc:producerLayers", timeout=1))["maxSpatialLayer"] == 2
    await host.drain()
    host.events.clear()
    for _ in range(3):
        await prefer(member, consumer, 0)
        await manual_clock.advance(LOWER_DELAY / 4)
        await prefer(member, consumer, 2)
    await manual_clock.advance(LOWER_DELAY * 1.5)
    await host.drain()
    assert host.saw("rtc:producerLayers") == []


async def test_audio_and_single_stream_video_are_left_alone(manual_clock, rtc_service,
                                                           pair_producers):
    """Only a simulcast producer has layers to switch off: nothing is sent for the others
    (the clock, installed first, runs every timer the call armed)."""
    host, producers = pair_producers
    await manual_clock.advance(LOWER_DELAY * 1.5)
    await host.drain()
    assert host.saw("rtc:producerLayers") == []
    room = next(iter(rtc_service.rooms.values()))
    assert all(room.dynacast.state(p) is None for p in producers)


@pytest.fixture
async def pair_producers(pair):
    """The host sends a microphone and a single-stream camera; the member receives both."""
    host, member = pair
    send = await host.transport("send")
    producers = [await host.produce(send, "audio"), await host.produce(send, "video")]
    recv = await member.transport("recv")
    for producer in producers:
        consumed = await member.consume(recv, producer)
        await member.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    return host, producers


async def test_screen_consumers_outrank_cameras(rtc_service, pair):
    """A shared screen's consumer gets priority 3 in the worker, a camera's the default 1."""
    host, member = pair
    send = await host.transport("send")
    camera = await host.produce(send, "video")
    parameters = {**video_parameters(), "mid": "5"}
    screen = (await host.ok("rtc:produce", {
        "transportId": send, "kind": "video", "rtpParameters": parameters,
        "appData": {"source": "screen"}}))["id"]
    recv = await member.transport("recv")
    priorities = {}
    room = next(iter(rtc_service.rooms.values()))
    member_peer = room.peers[member.joined["peerId"]]
    for producer in (camera, screen):
        consumed = await member.consume(recv, producer)
        dump = await member_peer.consumers[consumed["id"]].dump()
        priorities[producer] = dump["priority"]
    assert priorities == {camera: 1, screen: 3}


def test_wanted_layer_is_the_highest_preferred_of_active_consumers() -> None:
    """Pure rule: paused and closed consumers do not count; the result stays in range."""

    class Consumer:
        def __init__(self, spatial: int | None, *, paused: bool = False,
                     closed: bool = False) -> None:
            self.preferred_layers = None if spatial is None else {"spatialLayer": spatial}
            self.paused = paused
            self.closed = closed

    assert wanted_spatial_layer([], 3) == 0
    assert wanted_spatial_layer([Consumer(0), Consumer(1)], 3) == 1
    assert wanted_spatial_layer([Consumer(0), Consumer(2, paused=True)], 3) == 0
    assert wanted_spatial_layer([Consumer(2, closed=True)], 3) == 0
    assert wanted_spatial_layer([Consumer(None)], 3) == 2
    assert wanted_spatial_layer([Consumer(7)], 2) == 1


async def test_receivers_get_the_worker_s_bandwidth_estimation(rtc_service, call):
    """A browser-like receiver's video consumer negotiates transport-wide congestion control
    (the header extension and the transport-cc feedback): the worker then runs its bandwidth
    estimation on that transport (its effect is shown in tests/web/test_call_quality.py)."""
    _, member, _, producer = call
    recv = await member.transport("recv")
    consumed = await member.consume(recv, producer)
    parameters = consumed["rtpParameters"]
    uris = {ext["uri"] for ext in parameters["headerExtensions"]}
    assert "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01" in uris
    assert {"type": "transport-cc"} in [
        {"type": fb["type"]} for fb in parameters["codecs"][0]["rtcpFeedback"]]


async def test_a_sender_away_is_told_when_it_is_back(rtc_service, call, settings, manual_clock):
    """A change made while the sender's socket is gone (reconnect grace) reaches it after it
    resumes, even if nothing changes after that."""
    host, member, _, producer = call
    assert (await host.event("rtc:producerLayers"))["maxSpatialLayer"] == 0
    room = next(iter(rtc_service.rooms.values()))
    owner = room.producer_owner[producer]
    channel, owner.channel_name = owner.channel_name, None  # as a detach does
    await consume(member, producer)
    await manual_clock.advance(0.5)  # the raise is due, the sender is away: asked again later
    assert room.dynacast.state(producer)["sent"] == 0, "not told while away"
    owner.channel_name = channel  # as a resume does
    await manual_clock.advance(1.0)  # dynacast.AWAY_RETRY
    event = await host.event("rtc:producerLayers", timeout=3)
    assert event["maxSpatialLayer"] == 2
    assert room.dynacast.state(producer)["sent"] == 2
