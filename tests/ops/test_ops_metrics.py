"""/metrics: the figures follow a real call (peers, tracks, bytes, packets, scores, worker CPU and
memory, signaling counts and timings), and only the token or a staff session may read them."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from rtc.operations.media_sampling import MediaSample
from rtc.operations.metrics import _Totals
from tests.ops.call_peer import CallPeer
from tests.ops.conftest import METRICS_TOKEN, Samples, total, value
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


async def _until(predicate, timeout: float = 20.0, what: str = "") -> None:
    await eventually(predicate, timeout=timeout, what=what)


def _signaling(samples, message_type: str, outcome: str = "ok") -> float:
    return value(samples, "conference_signaling_requests_total", type=message_type,
                 outcome=outcome)


def _assert_call_counts(samples: Samples, *, rooms: int, peers: int, transports: int,
                        per_kind: int) -> None:
    """The gauges of open rooms, peers and transports, and of producers and consumers of each
    kind (``per_kind`` of each)."""
    assert value(samples, "conference_rooms_active") == rooms
    assert value(samples, "conference_peers_active") == peers
    assert value(samples, "conference_transports_active") == transports
    for kind in ("audio", "video"):
        assert value(samples, "conference_producers_active", kind=kind) == per_kind
        assert value(samples, "conference_consumers_active", kind=kind) == per_kind


async def test_metrics_follow_a_call_with_real_media(rtc_service, rtc_client, scrape, meeting,
                                                     host_user, member_user):
    """Two pymediasoup peers join over the meeting socket and exchange audio and video: the
    scrape shows the room, both peers, their transports and tracks by kind, growing byte and
    packet counters, scored tracks, the worker's CPU and memory, and every signaling request
    counted and timed; after both leave the gauges are back to zero and counters stay."""
    before = await scrape()
    assert value(before, "conference_rooms_active") == 0
    assert value(before, "conference_peers_active") == 0

    host = CallPeer(await rtc_client(meeting, host_user), "Hazel")
    member = CallPeer(await rtc_client(meeting, member_user), "Milo")
    peers = (host, member)
    try:
        for peer in peers:
            await peer.join()
        for peer in peers:
            await peer.publish()
        for peer, other in ((host, member), (member, host)):
            for kind in ("audio", "video"):
                await peer.subscribe(other.producer_ids[kind])
        await _until(lambda: all(p.frames["video"] >= 30 and p.frames["audio"] >= 30
                                 for p in peers), what="decoded frames both ways")
        room = rtc_service.rooms[str(meeting.id)]
        producers = [p for peer in room.peers.values() for p in peer.producers.values()]
        consumers = [c for peer in room.peers.values() for c in peer.consumers.values()]
        await _until(lambda: all(p.score for p in producers) and
                     all(c.score.get("score") for c in consumers), what="scores")

        during = await scrape()
        _assert_call_counts(during, rooms=1, peers=2, transports=4, per_kind=2)
        assert value(during, "conference_peers_reconnecting") == 0
        for kind in ("audio", "video"):
            assert total(during, "conference_producers_by_score", kind=kind) == 2
            assert total(during, "conference_consumers_by_score", kind=kind) == 2
            assert 0 < value(during, "conference_producer_score_min", kind=kind) <= 10
            assert 0 < value(during, "conference_consumer_score_min", kind=kind) <= 10
        assert value(during, "conference_workers_alive") == 1
        assert value(during, "conference_workers_configured") == 1
        pid = str(rtc_service.mediasoup.workers[0].pid)
        assert value(during, "conference_worker_routers", pid=pid) == 1
        assert value(during, "conference_worker_cpu_seconds_total", pid=pid, mode="user") > 0
        assert value(during, "conference_worker_resident_memory_bytes", pid=pid) > 1_000_000
        assert value(during, "conference_worker_max_resident_memory_bytes", pid=pid) > 1_000_000
        assert value(during, "conference_media_sample_errors") == 0
        received = value(during, "conference_transport_bytes_received_total")
        sent = value(during, "conference_transport_bytes_sent_total")
        assert received - value(before, "conference_transport_bytes_received_total") > 10_000
        assert sent - value(before, "conference_transport_bytes_sent_total") > 10_000
        for direction in ("in", "out"):
            grown = (value(during, "conference_rtp_packets_total", direction=direction)
                     - value(before, "conference_rtp_packets_total", direction=direction))
            assert grown > 50, direction
            assert 0 <= value(during, "conference_rtp_fraction_lost_max",
                              direction=direction) <= 1
        assert value(during, "conference_transport_recv_bitrate_bps") > 0
        assert value(during, "conference_transport_send_bitrate_bps") > 0
        for message_type, count in (("rtc:join", 2), ("rtc:createTransport", 4),
                                    ("rtc:connectTransport", 4), ("rtc:produce", 4),
                                    ("rtc:consume", 4), ("rtc:resumeConsumer", 4)):
            assert (_signaling(during, message_type) - _signaling(before, message_type)
                    == count), message_type
            timed = (value(during, "conference_signaling_request_seconds_count",
                           type=message_type)
                     - value(before, "conference_signaling_request_seconds_count",
                             type=message_type))
            assert timed == count, message_type
        assert value(during, "conference_signaling_request_seconds_sum", type="rtc:produce") > 0

        later: Samples = {}

        async def flowing() -> bool:
            later.clear()
            later.update(await scrape())
            return (value(later, "conference_transport_bytes_received_total") > received
                    and value(later, "conference_transport_bytes_sent_total") > sent)

        await eventually(flowing, what="transport byte counters still growing")
    finally:
        for peer in peers:
            await peer.close()
    for peer in peers:
        await peer.client.ok("rtc:leave")

    after = await scrape()
    _assert_call_counts(after, rooms=0, peers=0, transports=0, per_kind=0)
    assert total(after, "conference_producers_by_score") == 0
    assert value(after, "conference_worker_routers", pid=pid) == 0
    assert value(after, "conference_transport_bytes_received_total") >= value(
        later, "conference_transport_bytes_received_total")
    assert _signaling(after, "rtc:leave") - _signaling(before, "rtc:leave") == 2


async def test_failed_requests_are_counted_by_error_code(rtc_service, rtc_client, scrape,
                                                         meeting, host_user):
    """A refused request is counted under its reply's error code, not under ok; requests
    the dispatcher refuses before any handler (unknown types) are not counted at all."""
    client = await rtc_client(meeting, host_user)
    before = await scrape()
    assert await client.fail("rtc:createTransport", {"direction": "send"}) == "invalid"
    await client.join()
    assert await client.fail("rtc:consume", {
        "transportId": "nope", "producerId": "nope",
        "rtpCapabilities": client.joined["routerRtpCapabilities"]}) == "not_found"
    reply = await client.request("rtc:noSuchThing", {})
    assert reply["code"] == "unknown_type"
    after = await scrape()
    assert (_signaling(after, "rtc:createTransport", "invalid")
            - _signaling(before, "rtc:createTransport", "invalid")) == 1
    assert (_signaling(after, "rtc:consume", "not_found")
            - _signaling(before, "rtc:consume", "not_found")) == 1
    assert _signaling(after, "rtc:createTransport") == _signaling(before, "rtc:createTransport")
    assert not any(dict(labels).get("type") == "rtc:noSuchThing" for _, labels in after)
    await client.ok("rtc:leave")


async def test_metrics_need_the_token_or_a_staff_session(rtc_service, make_user, make_staff,
                                                         settings):
    """No credentials: 401 with a Bearer challenge; a wrong token: 401; a signed-in non-staff
    user: 403; the token or a staff session: 200 (OpenMetrics, strictly parsed, when asked as
    Prometheus asks). With no token configured, no token works."""
    client = AsyncClient()
    response = await client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"conference_" not in response.content
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    member = await database_sync_to_async(make_user)("mia")
    await client.aforce_login(member)
    assert (await client.get("/metrics")).status_code == 403

    staff_client = AsyncClient()
    await staff_client.aforce_login(await database_sync_to_async(make_staff)("stella"))
    response = await staff_client.get("/metrics")
    assert response.status_code == 200
    assert b"conference_rooms_active" in response.content
    response = await AsyncClient().get("/metrics",
                                       headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert b"conference_signaling_requests_total" in response.content
    response = await AsyncClient().get("/metrics", headers={
        "Authorization": f"Bearer {METRICS_TOKEN}", "Accept": PROMETHEUS_ACCEPT})
    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    names = {f.name for f in openmetrics_families(response.content.decode())}
    assert {"conference_rooms_active", "conference_worker_restarts",
            "conference_signaling_request_seconds"} <= names

    settings.METRICS_TOKEN = ""
    response = await AsyncClient().get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 401
    response = await AsyncClient().get("/metrics",
                                       headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 401


def test_media_totals_only_grow():
    """Byte and packet totals add what each object gained since the previous sample: a new
    object counts from zero, a closed one keeps what it gave, a figure that went down (an
    RTCP quirk) adds nothing, so the exported counters never decrease."""
    totals = _Totals()

    def sample(transports, producers=None):
        return MediaSample(taken_at=0.0, transports=transports, producers=producers or {})

    inbound = {"type": "inbound-rtp", "ssrc": 1, "packetCount": 100, "packetsLost": 5}
    totals.update(sample({"t1": {"bytesReceived": 1000, "bytesSent": 10}},
                         {"p1": [inbound]}))
    assert (totals.get("bytes_received"), totals.get("packets_in"), totals.get("lost_in")) == (
        1000, 100, 5)
    totals.update(sample({"t1": {"bytesReceived": 1500, "bytesSent": 10},
                          "t2": {"bytesReceived": 200, "bytesSent": 0}},
                         {"p1": [{**inbound, "packetCount": 150, "packetsLost": 3}]}))
    assert (totals.get("bytes_received"), totals.get("packets_in"), totals.get("lost_in")) == (
        1700, 150, 5)
    totals.update(sample({"t2": {"bytesReceived": 250, "bytesSent": 0}}))
    assert totals.get("bytes_received") == 1750
    totals.update(sample({"t1": {"bytesReceived": 40, "bytesSent": 0}}))  # a new t1
    assert totals.get("bytes_received") == 1790
