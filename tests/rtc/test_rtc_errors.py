"""Every error code of the rtc:* requests, and hostile clients: other meetings' ids, other
peers' objects, malformed and oversize data, non-members, full calls, floods. Each failure is
an error reply with the request's id; the socket and the call keep working afterwards."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from meetings import services
from meetings.models import Meeting
from rtc.services.room_service import RoomService
from rtc.websocket.envelope import CloseCode
from tests.rtc.conftest import DTLS_PARAMETERS, audio_parameters
from tests.support.rtc_client import audio_link

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def elsewhere(rtc_client, make_user):
    """A second meeting with a joined peer that owns a transport, a producer and a consumer."""
    owner = await database_sync_to_async(make_user)("olga")
    guest = await database_sync_to_async(make_user)("gus")
    other = await database_sync_to_async(services.meeting_create)(
        host=owner, title="Elsewhere", access=Meeting.Access.AUTHENTICATED)
    a = await rtc_client(other, owner)
    b = await rtc_client(other, guest)
    await a.join("Olga")
    await b.join("Gus")
    link = await audio_link(a, b)
    return {"transport": link["send"], "producer": link["producer"],
            "consumer": link["consumer"], "peer": a.joined["peerId"], "recv": link["recv"]}


async def test_requests_before_join_are_invalid(rtc_service, rtc_client, meeting, member_user):
    """A socket that has not joined the call cannot create or touch anything."""
    client = await rtc_client(meeting, member_user)
    for message_type, data in [
        ("rtc:createTransport", {"direction": "send"}),
        ("rtc:leave", {}),
        ("rtc:resumeConsumer", {"consumerId": "abc"}),
        ("rtc:hostRemovePeer", {"peerId": "abc"}),
    ]:
        assert await client.fail(message_type, data) == "invalid"
    assert rtc_service.rooms == {}


async def test_malformed_data_is_invalid_and_keeps_the_request_id(rtc_service, pair):
    """Wrong shapes and types get `invalid` with the same requestId; the peer still works."""
    host, _ = pair
    bad = [
        ("rtc:createTransport", {"direction": "sideways"}),
        ("rtc:createTransport", {"direction": "send", "extra": 1}),
        ("rtc:connectTransport", {"transportId": "x", "dtlsParameters": {"fingerprints": []}}),
        ("rtc:produce", {"transportId": "x", "kind": "audio", "rtpParameters": "opus"}),
        ("rtc:consume", {"transportId": "x", "producerId": 5, "rtpCapabilities": {}}),
        ("rtc:setPreferredLayers", {"consumerId": "x", "spatialLayer": "high"}),
        ("rtc:getStats", {"transportId": "x", "producerId": "y"}),
        ("rtc:join", {"displayName": ""}),
    ]
    for message_type, data in bad:
        reply = await host.request(message_type, data)
        assert reply["code"] == "invalid", (message_type, reply)
        assert reply["requestId"].startswith("r")
    assert (await host.ok("ping"))["type"] == "pong"
    await host.transport("send")


async def test_state_errors_are_invalid(rtc_service, pair):
    """Joining twice, producing on a recv transport, consuming on a send transport, consuming
    one's own producer, and bad RTP parameters are all `invalid`."""
    host, member = pair
    assert await host.fail("rtc:join", {"displayName": "again"}) == "invalid"
    send = await host.transport("send")
    recv = await host.transport("recv")
    producer = await host.produce(send, "audio")
    assert await host.fail("rtc:produce", {"transportId": recv, "kind": "audio",
                                           "rtpParameters": audio_parameters()}) == "invalid"
    caps = host.joined["routerRtpCapabilities"]
    assert await host.fail("rtc:consume", {"transportId": recv, "producerId": producer,
                                           "rtpCapabilities": caps}) == "invalid"
    member_recv = await member.transport("recv")
    member_send = await member.transport("send")
    assert await member.fail("rtc:consume", {"transportId": member_send, "producerId": producer,
                                             "rtpCapabilities": caps}) == "invalid"
    no_opus = {"codecs": [c for c in caps["codecs"] if c["kind"] == "video"],
               "headerExtensions": []}
    assert await member.fail("rtc:consume", {"transportId": member_recv,
                                             "producerId": producer,
                                             "rtpCapabilities": no_opus}) == "invalid"
    bad_codec = audio_parameters()
    bad_codec["codecs"][0]["mimeType"] = "audio/G729"
    reply = await host.request("rtc:produce", {"transportId": send, "kind": "audio",
                                               "rtpParameters": bad_codec})
    assert reply["code"] == "invalid" and reply["error"].startswith("produce:")
    assert await host.fail("rtc:hostRemovePeer", {"peerId": host.joined["peerId"]}) == "invalid"
    # Connecting the same transport twice is refused by the worker: invalid, not internal.
    assert await host.fail("rtc:connectTransport", {
        "transportId": recv, "dtlsParameters": DTLS_PARAMETERS}) == "invalid"
    assert rtc_service.counts()["consumers"] == 0


async def test_ids_of_another_meeting_are_not_found(rtc_service, pair, elsewhere, meeting):
    """Ids that exist in another meeting look exactly like ids that exist nowhere."""
    host, member = pair
    send = await host.transport("send")
    recv = await member.transport("recv")
    caps = member.joined["routerRtpCapabilities"]
    attempts = [
        (host, "rtc:connectTransport", {"transportId": elsewhere["transport"],
                                        "dtlsParameters": DTLS_PARAMETERS}),
        (host, "rtc:produce", {"transportId": elsewhere["transport"], "kind": "audio",
                               "rtpParameters": audio_parameters()}),
        (member, "rtc:consume", {"transportId": recv, "producerId": elsewhere["producer"],
                                 "rtpCapabilities": caps}),
        (member, "rtc:consume", {"transportId": elsewhere["recv"], "producerId":
                                 elsewhere["producer"], "rtpCapabilities": caps}),
        (member, "rtc:resumeConsumer", {"consumerId": elsewhere["consumer"]}),
        (member, "rtc:setPreferredLayers", {"consumerId": elsewhere["consumer"],
                                            "spatialLayer": 0}),
        (host, "rtc:pauseProducer", {"producerId": elsewhere["producer"]}),
        (host, "rtc:closeProducer", {"producerId": elsewhere["producer"]}),
        (host, "rtc:hostMuteProducer", {"producerId": elsewhere["producer"]}),
        (host, "rtc:hostRemovePeer", {"peerId": elsewhere["peer"]}),
        (host, "rtc:restartIce", {"transportId": elsewhere["transport"]}),
        (host, "rtc:closeTransport", {"transportId": elsewhere["transport"]}),
        (host, "rtc:getStats", {"producerId": elsewhere["producer"]}),
        (host, "rtc:getStats", {"consumerId": elsewhere["consumer"]}),
        (host, "rtc:getStats", {"transportId": elsewhere["transport"]}),
        (host, "rtc:closeConsumer", {"consumerId": elsewhere["consumer"]}),
    ]
    for client, message_type, data in attempts:
        assert await client.fail(message_type, data) == "not_found", message_type
    assert send
    other = next(room for key, room in rtc_service.rooms.items() if key != str(meeting.id))
    counts = other.counts()
    assert counts == {"peers": 2, "transports": 2, "producers": 1, "consumers": 1}
    producer = other.producer_owner[elsewhere["producer"]].producers[elsewhere["producer"]]
    assert producer.paused is False and not producer.closed


async def test_other_peers_objects_are_forbidden_or_not_found(rtc_service, pair):
    """Another peer's producer (its id is public in the call) is `forbidden` to pause or
    close; its transports and consumers (private ids) are `not_found`."""
    host, member = pair
    send = await host.transport("send")
    producer = await host.produce(send, "audio")
    recv = await member.transport("recv")
    consumer = (await member.consume(recv, producer))["id"]
    for message_type in ("rtc:pauseProducer", "rtc:resumeProducer", "rtc:closeProducer"):
        assert await member.fail(message_type, {"producerId": producer}) == "forbidden"
    assert await member.fail("rtc:getStats", {"producerId": producer}) == "forbidden"
    assert await member.fail("rtc:connectTransport", {
        "transportId": send, "dtlsParameters": DTLS_PARAMETERS}) == "not_found"
    assert await member.fail("rtc:restartIce", {"transportId": send}) == "not_found"
    assert await host.fail("rtc:resumeConsumer", {"consumerId": consumer}) == "not_found"
    assert await host.fail("rtc:closeConsumer", {"consumerId": consumer}) == "not_found"
    assert await host.fail("rtc:consume", {
        "transportId": recv, "producerId": producer,
        "rtpCapabilities": host.joined["routerRtpCapabilities"]}) == "not_found"
    assert rtc_service.counts()["producers"] == 1 and rtc_service.counts()["consumers"] == 1


async def test_host_actions_are_forbidden_to_members(rtc_service, pair):
    """A member can neither mute another peer nor remove one, nor read server stats."""
    host, member = pair
    producer = await host.produce(await host.transport("send"), "audio")
    assert await member.fail("rtc:hostMuteProducer", {"producerId": producer}) == "forbidden"
    assert await member.fail("rtc:hostRemovePeer",
                             {"peerId": host.joined["peerId"]}) == "forbidden"
    assert await member.fail("rtc:serverStats") == "forbidden"
    assert rtc_service.counts()["peers"] == 2


async def test_unknown_ids_and_bad_resume_are_not_found(rtc_service, pair, rtc_client, meeting,
                                                        member_user, outsider_user):
    """Well-formed ids of nothing, and resumes with a wrong token or by another user."""
    host, member = pair
    assert await host.fail("rtc:resumeConsumer", {"consumerId": "nothing-here"}) == "not_found"
    assert await host.fail("rtc:hostRemovePeer", {"peerId": "nothing-here"}) == "not_found"
    third = await rtc_client(meeting, member_user)
    bad_token = {"peerId": member.joined["peerId"], "token": "wrong"}
    assert await third.fail("rtc:join", {"displayName": "x", "resume": bad_token}) == "not_found"
    host_token = {"peerId": member.joined["peerId"], "token": host.joined["resumeToken"]}
    assert await third.fail("rtc:join", {"displayName": "x", "resume": host_token}) == \
        "not_found"


async def test_unknown_rtc_type_is_unknown_type(rtc_service, pair):
    """A request type the server does not know: `unknown_type`, with the requestId."""
    host, _ = pair
    reply = await host.request("rtc:teleport", {})
    assert reply["code"] == "unknown_type" and reply["requestId"]


async def test_internal_errors_do_not_leak(rtc_service, pair, monkeypatch):
    """An unexpected exception becomes `internal` with a fixed message, not its text."""
    host, _ = pair

    async def explode(self, **kwargs):
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(RoomService, "create_transport", explode)
    reply = await host.request("rtc:createTransport", {"direction": "send"})
    assert reply["code"] == "internal"
    assert "secret" not in reply["error"] and "/etc" not in reply["error"]


async def test_oversize_messages_are_refused(rtc_service, pair):
    """A frame over the size limit and an oversize field are refused; the peer goes on."""
    host, _ = pair
    await host.ws.send_to(text_data=json.dumps({"type": "rtc:join", "requestId": "big",
                                                "data": {"displayName": "x" * 70_000}}))
    reply = await host.ws.receive_json_from(timeout=5)
    while "type" in reply:
        reply = await host.ws.receive_json_from(timeout=5)
    assert reply["code"] == "invalid"
    send = await host.transport("send")
    huge = audio_parameters()
    huge["codecs"][0]["parameters"] = {f"p{i}": "v" * 900 for i in range(50)}
    reply = await host.request("rtc:produce", {"transportId": send, "kind": "audio",
                                               "rtpParameters": huge})
    assert reply["code"] == "invalid" and "too large" in reply["error"]
    assert rtc_service.counts()["producers"] == 0


async def test_non_member_cannot_reach_the_call(rtc_service, ws_communicator, ws_expect_close,
                                                pair, meeting, outsider_user):
    """A signed-in non-member is closed with 4403 before any rtc request; the call is intact."""
    communicator = await ws_communicator(meeting.id, user=outsider_user)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    assert await ws_expect_close(communicator) == CloseCode.FORBIDDEN
    assert rtc_service.counts()["peers"] == 2


async def test_call_full_by_meeting_capacity(rtc_service, rtc_client, meeting, host_user,
                                             member_user):
    """Capacity 1: the host's second device cannot join the call (`room_full`)."""
    await database_sync_to_async(Meeting.objects.filter(pk=meeting.pk).update)(capacity=1)
    first = await rtc_client(meeting, host_user)
    second = await rtc_client(meeting, host_user)
    await first.join("Hazel laptop")
    assert await second.fail("rtc:join", {"displayName": "Hazel phone"}) == "room_full"
    assert rtc_service.counts()["peers"] == 1


async def test_call_full_by_the_peers_limit(rtc_service, rtc_client, meeting, host_user,
                                            member_user, settings):
    """MAX_PEERS_PER_MEETING caps the call below the meeting's capacity."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "MAX_PEERS_PER_MEETING": 1}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join()
    assert await member.fail("rtc:join", {"displayName": "Milo"}) == "room_full"
    await host.ok("rtc:leave")
    await member.join("Milo")


async def test_per_peer_and_per_meeting_limits(rtc_service, pair, settings):
    """Transports, producers, consumers per peer and producers per meeting: `limit`."""
    host, member = pair
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "MAX_TRANSPORTS_PER_PEER": 2,
                           "MAX_PRODUCERS_PER_PEER": 2, "MAX_CONSUMERS_PER_PEER": 1,
                           "MAX_PRODUCERS_PER_MEETING": 3}
    send = await host.transport("send")
    await host.transport("recv")
    assert await host.fail("rtc:createTransport", {"direction": "send"}) == "limit"
    first = await host.produce(send, "audio")
    await host.produce(send, "video")
    assert await host.fail("rtc:produce", {"transportId": send, "kind": "audio",
                                           "rtpParameters": audio_parameters()}) == "limit"
    member_send = await member.transport("send")
    await member.produce(member_send, "audio")
    assert await member.fail("rtc:produce", {"transportId": member_send, "kind": "audio",
                                             "rtpParameters": audio_parameters()}) == "limit"
    recv = await member.transport("recv")
    await member.consume(recv, first)
    assert await member.fail("rtc:consume", {
        "transportId": recv, "producerId": first,
        "rtpCapabilities": member.joined["routerRtpCapabilities"]}) == "limit"
    assert rtc_service.counts() | {"workers": 1} == {
        "rooms": 1, "peers": 2, "transports": 4, "producers": 3, "consumers": 1, "workers": 1}


async def test_request_flood_is_rate_limited(rtc_service, pair, settings):
    """Past the burst, requests get `limit` until the bucket refills."""
    host, _ = pair
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "REQUEST_BURST": 5,
                           "REQUESTS_PER_SECOND": 0.5}
    codes = []
    for _ in range(8):  # with the join and the ping: 10 frames, the socket's frame burst
        reply = await host.request("rtc:getStats", {"transportId": "none"})
        codes.append(reply["code"])
    assert "limit" in codes
    assert codes.count("not_found") <= 7
    assert (await host.ok("ping"))["type"] == "pong", \
        "non-rtc requests only count against the socket's frame budget (rtc.websocket.consumer)"


async def test_rooms_per_worker_limit(rtc_service, rtc_client, meeting, open_meeting,
                                      host_user, settings):
    """With one room allowed per worker, a second meeting's call is refused with `limit`."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "MAX_ROOMS_PER_WORKER": 1}
    first = await rtc_client(meeting, host_user)
    second = await rtc_client(open_meeting, host_user)
    await first.join()
    assert await second.fail("rtc:join", {"displayName": "x"}) == "limit"
    assert len(rtc_service.rooms) == 1
