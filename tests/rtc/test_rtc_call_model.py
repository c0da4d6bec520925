"""The call model keeps ownership once (`rtc.services.rooms`): a peer's producers and consumers
are the library's own maps of its transports, and the room's producer owners follow each
producer's close event, however the producer closes; the admin's and integrations' commands
(`RoomService.mute_track`, `RoomService.change_grants`) act through the same model."""

from __future__ import annotations

import pytest

from rtc.policy.grants import Grants

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def call(rtc_service, pair, meeting):
    """The host sending audio and a webcam, the member receiving both."""
    host, member = pair
    send = await host.transport("send")
    audio = await host.produce(send, "audio")
    video = await host.produce(send, "video")
    recv = await member.transport("recv")
    consumed = [await member.consume(recv, audio), await member.consume(recv, video)]
    room = rtc_service.rooms[str(meeting.id)]
    return host, member, room, send, audio, video, recv, consumed


async def test_a_producer_closed_under_the_service_leaves_the_model(rtc_service, call):
    """A producer closed in the control layer itself (no service bookkeeping involved) is
    gone from its peer's producers, from the room's owners and from the counts; its consumer
    closes and the member is told; consuming it again is `not_found`."""
    host, member, room, _, audio, video, recv, consumed = call
    owner = room.owner_of(audio)
    assert owner is not None and set(owner.producers) == {audio, video}
    owner.producers[audio].close()
    assert audio not in room.producer_owner and audio not in owner.producers
    closed = await member.event("rtc:consumerClosed")
    assert closed == {"consumerId": consumed[0]["id"], "producerId": audio}
    member_peer = room.peer(member.joined["peerId"])
    assert set(member_peer.consumers) == {consumed[1]["id"]}
    assert await member.fail("rtc:consume", {
        "transportId": recv, "producerId": audio,
        "rtpCapabilities": member.joined["routerRtpCapabilities"]}) == "not_found"
    assert room.counts() == {"peers": 2, "transports": 2, "producers": 1, "consumers": 1}


async def test_closing_a_transport_takes_its_objects_from_the_model(rtc_service, call):
    """rtc:closeTransport: the transport's producers leave the room's owners and the peer's
    maps with it (the library's cascade), the others get rtc:producerClosed for each."""
    host, member, room, send, audio, video, _, _ = call
    await host.ok("rtc:closeTransport", {"transportId": send})
    closed = {(await member.event("rtc:producerClosed"))["producerId"] for _ in range(2)}
    assert closed == {audio, video}
    host_peer = room.peer(host.joined["peerId"])
    assert host_peer.transports == {} and host_peer.producers == {}
    assert room.producer_owner == {}
    assert room.counts()["producers"] == 0


async def test_changed_grants_close_what_they_no_longer_allow(rtc_service, call):
    """RoomService.change_grants (the integrations' live API): the webcam closes when the
    grants allow only the mic, every consumer closes when subscribing is revoked; the peers
    are told and the model holds only what is left."""
    host, member, room, _, audio, video, _, consumed = call
    host_id, member_id = host.joined["peerId"], member.joined["peerId"]
    peer, producers, consumers = await rtc_service.change_grants(
        meeting_id=room.meeting_id, peer_id=host_id,
        decide=lambda p: Grants(host=True, publish=frozenset({"mic"})))
    assert peer.id == host_id and producers == [video] and consumers == []
    assert set(peer.producers) == {audio} and set(room.producer_owner) == {audio}
    assert (await member.event("rtc:producerClosed"))["producerId"] == video
    updated = await host.event("rtc:grantsUpdated")
    assert updated["closedProducers"] == [video]
    _, _, consumers = await rtc_service.change_grants(
        meeting_id=room.meeting_id, peer_id=member_id,
        decide=lambda p: Grants(subscribe=False))
    assert set(consumers) <= {c["id"] for c in consumed} and consumers
    assert room.peer(member_id).consumers == {}
    assert (await member.event("rtc:grantsUpdated"))["grants"]["subscribe"] is False


async def test_staff_mute_pauses_the_track_for_everyone(rtc_service, call):
    """RoomService.mute_track (the admin's and the integrations' mute): the producer pauses,
    every socket of the call, its owner's too, gets rtc:producerPaused with byHost."""
    host, member, room, _, audio, _, _, _ = call
    owner = await rtc_service.mute_track(meeting_id=room.meeting_id, producer_id=audio)
    assert owner.id == host.joined["peerId"] and owner.producers[audio].paused
    expected = {"peerId": owner.id, "producerId": audio, "byHost": True}
    assert await host.event("rtc:producerPaused") == expected
    assert await member.event("rtc:producerPaused") == expected
