"""Every rtc:* request over a real meeting socket, real worker and real database: replies and
the events they cause (to the others, never to the sender unless it is the point)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.rtc.conftest import DTLS_PARAMETERS, audio_parameters

pytestmark = pytest.mark.django_db(transaction=True)


async def test_join_reply_lists_capabilities_peers_and_their_producers(
        rtc_service, rtc_client, meeting, host_user, member_user):
    """rtc:joined carries a peer id, the router's capabilities, and the others' producers."""
    host = await rtc_client(meeting, host_user)
    joined = await host.join("Hazel", device={"flag": "python", "version": "1"})
    assert joined["peers"] == [] and joined["resumed"] is False and joined["role"] == "host"
    mimes = {c["mimeType"] for c in joined["routerRtpCapabilities"]["codecs"]}
    assert {"audio/opus", "video/VP8", "video/H264"} <= mimes
    assert len(joined["resumeToken"]) >= 24
    send = await host.transport("send")
    producer_id = await host.produce(send, "audio")
    member = await rtc_client(meeting, member_user)
    second = await member.join("Milo")
    assert second["role"] == "member"
    assert second["peers"] == [{
        "peerId": joined["peerId"], "displayName": "Hazel", "role": "host",
        "producers": [{"id": producer_id, "kind": "audio", "appData": {"source": "mic"},
                       "paused": False}],
    }]
    peer_joined = await host.event("rtc:peerJoined")
    assert peer_joined == {"peerId": second["peerId"], "displayName": "Milo", "role": "member"}
    await member.drain()
    assert member.saw("rtc:peerJoined") == [], "the joiner is not told about itself"


async def test_create_transport_returns_ice_dtls_and_sctp(rtc_service, pair):
    """Both directions; SCTP parameters appear only when SCTP capabilities were sent."""
    host, _ = pair
    send = await host.ok("rtc:createTransport", {"direction": "send"})
    assert send["type"] == "rtc:transportCreated"
    assert send["iceParameters"]["usernameFragment"] and send["iceParameters"]["password"]
    assert send["iceCandidates"] and send["iceCandidates"][0]["ip"] == "127.0.0.1"
    assert {c["protocol"] for c in send["iceCandidates"]} == {"udp", "tcp"}
    assert {f["algorithm"] for f in send["dtlsParameters"]["fingerprints"]} >= {"sha-256"}
    assert send["sctpParameters"] is None
    recv = await host.ok("rtc:createTransport", {
        "direction": "recv", "sctpCapabilities": {"numStreams": {"OS": 16, "MIS": 16}}})
    assert recv["id"] != send["id"]
    assert recv["sctpParameters"]["MIS"] == 16
    connected = await host.ok("rtc:connectTransport", {"transportId": send["id"],
                                                       "dtlsParameters": DTLS_PARAMETERS})
    assert connected == {"type": "rtc:transportConnected"}
    assert rtc_service.counts()["transports"] == 2


async def test_produce_announces_to_others_only(rtc_service, pair):
    """rtc:produced goes to the sender, rtc:newProducer to the other peer, not the sender."""
    host, member = pair
    send = await host.transport("send")
    audio = await host.produce(send, "audio")
    video = await host.produce(send, "video", label="front")
    first = await member.event("rtc:newProducer", producerId=audio)
    assert first == {"peerId": host.joined["peerId"], "producerId": audio, "kind": "audio",
                     "appData": {"source": "mic"}, "paused": False}
    second = await member.event("rtc:newProducer", producerId=video)
    assert second["kind"] == "video" and second["appData"] == {"source": "webcam",
                                                               "label": "front"}
    await host.drain()
    assert host.saw("rtc:newProducer") == []
    assert rtc_service.counts()["producers"] == 2


async def test_consume_pause_resume_and_close_consumer(rtc_service, pair):
    """A consumer starts paused, resumes, pauses, and closes on request."""
    host, member = pair
    producer = await host.produce(await host.transport("send"), "video")
    recv = await member.transport("recv")
    consumed = await member.consume(recv, producer)
    assert consumed["type"] == "rtc:consumed"
    assert consumed["producerId"] == producer and consumed["peerId"] == host.joined["peerId"]
    assert consumed["kind"] == "video" and consumed["paused"] is True
    assert consumed["producerPaused"] is False and consumed["consumerType"] == "simple"
    assert consumed["appData"] == {"source": "webcam"}
    assert consumed["rtpParameters"]["codecs"][0]["mimeType"] == "video/VP8"
    resumed = await member.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    assert resumed == {"type": "rtc:consumerResumed", "consumerId": consumed["id"]}
    paused = await member.ok("rtc:pauseConsumer", {"consumerId": consumed["id"]})
    assert paused["type"] == "rtc:consumerPaused"
    stats = await member.ok("rtc:getStats", {"consumerId": consumed["id"]})
    assert stats["type"] == "rtc:stats" and stats["stats"][0]["type"] == "outbound-rtp"
    closed = await member.ok("rtc:closeConsumer", {"consumerId": consumed["id"]})
    assert closed == {"type": "rtc:consumerClosed", "consumerId": consumed["id"]}
    assert rtc_service.counts()["consumers"] == 0
    router = next(iter(rtc_service.rooms.values())).router
    assert not (await router.dump())["mapConsumerIdProducerId"]


async def test_pause_resume_close_producer_events(rtc_service, pair):
    """Producer pause/resume/close reach the other peer; its consumer is closed and said so."""
    host, member = pair
    producer = await host.produce(await host.transport("send"), "audio")
    consumed = await member.consume(await member.transport("recv"), producer)
    paused = await host.ok("rtc:pauseProducer", {"producerId": producer})
    assert paused == {"type": "rtc:producerPaused", "producerId": producer}
    event = await member.event("rtc:producerPaused")
    assert event == {"peerId": host.joined["peerId"], "producerId": producer}
    await host.ok("rtc:resumeProducer", {"producerId": producer})
    assert (await member.event("rtc:producerResumed"))["producerId"] == producer
    stats = await host.ok("rtc:getStats", {"producerId": producer})
    assert stats["producerId"] == producer and isinstance(stats["stats"], list)
    closed = await host.ok("rtc:closeProducer", {"producerId": producer})
    assert closed == {"type": "rtc:producerClosed", "producerId": producer}
    assert (await member.event("rtc:producerClosed"))["producerId"] == producer
    gone = await member.event("rtc:consumerClosed")
    assert gone == {"consumerId": consumed["id"], "producerId": producer}
    await host.drain()
    assert not host.saw("rtc:producerPaused") and not host.saw("rtc:producerClosed")
    counts = rtc_service.counts()
    assert counts["producers"] == 0 and counts["consumers"] == 0


async def test_set_preferred_layers_on_a_simulcast_consumer(rtc_service, pair):
    """A three-encoding VP8 producer gives a simulcast consumer whose layers can be chosen."""
    host, member = pair
    send = await host.transport("send")
    parameters = {
        "mid": "2",
        "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000,
                    "rtcpFeedback": [{"type": "nack", "parameter": "pli"}]}],
        "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1}],
        "encodings": [{"ssrc": 5550, "scalabilityMode": "L1T3"},
                      {"ssrc": 5551, "scalabilityMode": "L1T3"},
                      {"ssrc": 5552, "scalabilityMode": "L1T3"}],
        "rtcp": {"cname": "simulcast"},
    }
    produced = await host.ok("rtc:produce", {"transportId": send, "kind": "video",
                                             "rtpParameters": parameters,
                                             "appData": {"source": "webcam"}})
    consumed = await member.consume(await member.transport("recv"), produced["id"])
    assert consumed["consumerType"] == "simulcast"
    reply = await member.ok("rtc:setPreferredLayers", {
        "consumerId": consumed["id"], "spatialLayer": 1, "temporalLayer": 2})
    assert reply["type"] == "rtc:preferredLayersSet"
    assert reply["preferredLayers"] == {"spatialLayer": 1, "temporalLayer": 2}


async def test_restart_ice_and_transport_stats_and_close_transport(rtc_service, pair):
    """ICE restart gives new credentials; stats describe the transport; closing it closes its
    producers and tells the others."""
    host, member = pair
    send = await host.ok("rtc:createTransport", {"direction": "send"})
    restarted = await host.ok("rtc:restartIce", {"transportId": send["id"]})
    assert restarted["type"] == "rtc:iceRestarted"
    assert restarted["iceParameters"]["usernameFragment"] != \
        send["iceParameters"]["usernameFragment"]
    stats = await host.ok("rtc:getStats", {"transportId": send["id"]})
    assert stats["stats"][0]["type"] == "webrtc-transport"
    assert stats["stats"][0]["transportId"] == send["id"]
    producer = await host.produce(send["id"], "audio")
    closed = await host.ok("rtc:closeTransport", {"transportId": send["id"]})
    assert closed == {"type": "rtc:transportClosed", "transportId": send["id"]}
    assert (await member.event("rtc:producerClosed"))["producerId"] == producer
    assert rtc_service.counts()["transports"] == 0 and rtc_service.counts()["producers"] == 0


async def test_leave_releases_everything_and_allows_a_new_join(rtc_service, pair):
    """rtc:leave frees the peer's objects at once, tells the other, and the socket stays."""
    host, member = pair
    await member.produce(await member.transport("send"), "audio")
    await member.transport("recv")
    left = await member.ok("rtc:leave")
    assert left == {"type": "rtc:left"}
    event = await host.event("rtc:peerLeft")
    assert event == {"peerId": member.joined["peerId"], "reason": "left"}
    counts = rtc_service.counts()
    assert counts["peers"] == 1 and counts["transports"] == 0 and counts["producers"] == 0
    first_id = member.joined["peerId"]
    rejoined = await member.join("Milo again")
    assert rejoined["peerId"] != first_id
    assert (await host.event("rtc:peerJoined"))["displayName"] == "Milo again"


async def test_last_leave_closes_the_room_and_its_router(rtc_service, pair):
    """When the last peer leaves, the room and its router are gone from the worker too."""
    host, member = pair
    pool = rtc_service.mediasoup
    worker = pool.workers[0]
    assert len(await pool.call_router_ids(worker)) == 1
    await host.ok("rtc:leave")
    await member.ok("rtc:leave")
    assert rtc_service.rooms == {}
    assert await pool.call_router_ids(worker) == []


async def test_host_mutes_a_members_producer(rtc_service, pair):
    """The host pauses a member's producer; the member (and others) hear of it, the host not."""
    host, member = pair
    producer = await member.produce(await member.transport("send"), "audio")
    reply = await host.ok("rtc:hostMuteProducer", {"producerId": producer})
    assert reply == {"type": "rtc:hostMuted", "producerId": producer}
    event = await member.event("rtc:producerPaused")
    assert event == {"peerId": member.joined["peerId"], "producerId": producer, "byHost": True}
    room = next(iter(rtc_service.rooms.values()))
    assert room.peers[member.joined["peerId"]].producers[producer].paused is True
    # The member may unmute itself.
    await member.ok("rtc:resumeProducer", {"producerId": producer})
    assert (await host.event("rtc:producerResumed"))["producerId"] == producer


async def test_host_removes_a_peer_who_may_not_rejoin(rtc_service, pair, meeting):
    """The removed peer is told and released; the others get rtc:peerLeft; a new rtc:join by
    the same user in this call is forbidden."""
    host, member = pair
    await member.produce(await member.transport("send"), "video")
    reply = await host.ok("rtc:hostRemovePeer", {"peerId": member.joined["peerId"]})
    assert reply == {"type": "rtc:hostRemoved", "peerId": member.joined["peerId"]}
    assert await member.event("rtc:removed") == {"reason": "host"}
    left = await host.event("rtc:peerLeft")
    assert left == {"peerId": member.joined["peerId"], "reason": "removed"}
    assert await member.fail("rtc:createTransport", {"direction": "send"}) == "invalid"
    assert await member.fail("rtc:join", {"displayName": "Milo"}) == "forbidden"
    counts = rtc_service.counts()
    assert counts["peers"] == 1 and counts["producers"] == 0


async def test_server_stats_for_staff(rtc_service, rtc_client, meeting, host_user):
    """rtc:serverStats reports counts and the worker's own router list to staff."""
    host_user.is_staff = True
    await database_sync_to_async(host_user.save)()
    host = await rtc_client(meeting, host_user)
    await host.join()
    await host.produce(await host.transport("send"), "audio")
    stats = await host.ok("rtc:serverStats")
    assert stats["rooms"] == 1 and stats["peers"] == 1 and stats["producers"] == 1
    assert stats["workers"] == 1 and len(stats["workerDumps"][0]["routerIds"]) == 1


async def test_produce_paused_is_announced_paused(rtc_service, pair):
    """A producer created paused is announced with paused true, and consumers know it."""
    host, member = pair
    send = await host.transport("send")
    produced = await host.ok("rtc:produce", {"transportId": send, "kind": "audio",
                                             "rtpParameters": audio_parameters(),
                                             "paused": True})
    new = await member.event("rtc:newProducer")
    assert new["paused"] is True and new["appData"] == {}
    consumed = await member.consume(await member.transport("recv"), produced["id"])
    assert consumed["producerPaused"] is True
