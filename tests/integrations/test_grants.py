"""Grant enforcement on every rtc:* request, over real sockets against the real worker."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from meetings import services as meeting_services
from rtc.policy.grants import Grants, grant_store
from rtc.signaling.routes import ROUTES
from rtc.websocket.envelope import registry
from tests.rtc.conftest import DTLS_PARAMETERS, audio_parameters

pytestmark = pytest.mark.django_db(transaction=True)

NOTHING = {"publish": [], "subscribe": False, "hidden": False, "host": False}
RTC_TYPES = [t for t in ROUTES if t.startswith("rtc:")]
"""The call's own requests (the collaboration ones have their tests in tests/collab)."""


def some_id() -> str:
    """An id that names nothing."""
    return str(uuid.uuid4())


def request_data(message_type: str) -> dict:
    """Well-formed data for each request type, naming objects that do not exist."""
    caps = {"codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000,
                        "channels": 2, "preferredPayloadType": 100}], "headerExtensions": []}
    return {
        "rtc:join": {"displayName": "Again"},
        "rtc:leave": {},
        "rtc:createTransport": {"direction": "send"},
        "rtc:connectTransport": {"transportId": some_id(), "dtlsParameters": DTLS_PARAMETERS},
        "rtc:restartIce": {"transportId": some_id()},
        "rtc:closeTransport": {"transportId": some_id()},
        "rtc:produce": {"transportId": some_id(), "kind": "audio",
                        "rtpParameters": audio_parameters(), "appData": {"source": "mic"}},
        "rtc:pauseProducer": {"producerId": some_id()},
        "rtc:resumeProducer": {"producerId": some_id()},
        "rtc:closeProducer": {"producerId": some_id()},
        "rtc:consume": {"transportId": some_id(), "producerId": some_id(),
                        "rtpCapabilities": caps},
        "rtc:resumeConsumer": {"consumerId": some_id()},
        "rtc:pauseConsumer": {"consumerId": some_id()},
        "rtc:closeConsumer": {"consumerId": some_id()},
        "rtc:setPreferredLayers": {"consumerId": some_id(), "spatialLayer": 0},
        "rtc:getStats": {"transportId": some_id()},
        "rtc:hostMuteProducer": {"producerId": some_id()},
        "rtc:hostRemovePeer": {"peerId": some_id()},
        "rtc:serverStats": {},
        "rtc:startRecording": {},
        "rtc:stopRecording": {},
    }[message_type]


GUARD_REFUSES_WITH_NOTHING = {
    "rtc:createTransport": "you may not publish in this call",
    "rtc:produce": "you may not publish in this call",
    "rtc:consume": "you may not receive tracks in this call",
    "rtc:resumeConsumer": "you may not receive tracks in this call",
    "rtc:setPreferredLayers": "you may not receive tracks in this call",
    "rtc:hostMuteProducer": "only a host may do this",
    "rtc:hostRemovePeer": "only a host may do this",
    "rtc:startRecording": "you may not record this call",
    "rtc:stopRecording": "you may not record this call",
}
GUARD_MESSAGES = set(GUARD_REFUSES_WITH_NOTHING.values())


@pytest.fixture
async def member(acme_meeting, make_user):
    """A signed-in user invited to the integration's meeting (full grants: no token)."""
    user = await database_sync_to_async(make_user)("milo")
    await database_sync_to_async(meeting_services.participant_invite)(
        meeting=acme_meeting, actor=acme_meeting.host, username="milo")
    return user


def test_every_registered_rtc_request_has_a_grant_rule():
    """Every namespaced type the socket serves is a route, and every route names its grant
    check (a request cannot be declared without one: fail closed)."""
    namespaced = {t for t in registry.types if ":" in t and t != "meeting:state"}
    assert namespaced == set(ROUTES)
    assert all(callable(route.grant) for route in ROUTES.values())


async def test_nothing_granted_refuses_exactly_the_guarded_requests(acme, acme_meeting,
                                                                    token_client):
    """With no publish, no subscribe and no host grant, every rtc:* request is sent: the
    media and host ones are `forbidden` by the guard before anything else runs (even though
    their ids name nothing); the others reach their handler."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "nobody", **NOTHING)
    client = await token_client(acme_meeting, token)
    await client.join("Nobody")
    types = sorted(RTC_TYPES, key=lambda t: t == "rtc:leave")  # leave last
    for message_type in types:
        reply = await client.request(message_type, request_data(message_type))
        expected = GUARD_REFUSES_WITH_NOTHING.get(message_type)
        if expected is not None:
            assert reply.get("code") == "forbidden" and reply["error"] == expected, \
                (message_type, reply)
        else:
            assert reply.get("error") not in GUARD_MESSAGES, (message_type, reply)
    recv = await client.request("rtc:createTransport", {"direction": "recv"})
    assert recv["code"] == "forbidden" and recv["error"] == "you may not receive tracks in " \
                                                           "this call"


async def test_full_grants_pass_every_request_to_its_handler(acme, acme_meeting, token_client):
    """A token with every grant (host included) is never refused by the guard."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "boss", host=True)
    client = await token_client(acme_meeting, token)
    joined = await client.join("Boss")
    assert joined["role"] == "host"
    for message_type in sorted(RTC_TYPES, key=lambda t: t == "rtc:leave"):
        reply = await client.request(message_type, request_data(message_type))
        assert reply.get("error") not in GUARD_MESSAGES, (message_type, reply)


async def test_validation_comes_before_the_grant(acme, acme_meeting, token_client):
    """The grant check sees only validated requests: a request that is both malformed and
    not granted is answered `invalid` with the schema's message; well-formed, `forbidden`."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "nobody", **NOTHING)
    client = await token_client(acme_meeting, token)
    await client.join("Nobody")
    data = request_data("rtc:produce")
    reply = await client.request("rtc:produce", {**data, "appData": {"source": "radio"}})
    assert reply["code"] == "invalid", reply
    assert reply["error"] == "source must be one of mic, webcam, screen, screen-audio"
    reply = await client.request("rtc:produce", data)
    assert (reply["code"], reply["error"]) == ("forbidden", "you may not publish in this call")
    reply = await client.request("rtc:consume", {"producerId": some_id()})
    assert (reply["code"], reply["error"]) == ("invalid", "transportId is required")


async def test_subscribe_only_guest_receives_but_cannot_send(acme, acme_meeting, member,
                                                             rtc_client, token_client):
    """A viewer token: consume, resume and choose layers of a member's track; creating a send
    transport or producing is forbidden."""
    speaker = await rtc_client(acme_meeting, member)
    await speaker.join("Milo")
    producer_id = await speaker.produce(await speaker.transport("send"), "audio")
    token = await database_sync_to_async(acme.token)(acme_meeting, "viewer", publish=[])
    viewer = await token_client(acme_meeting, token)
    joined = await viewer.join("Viewer")
    assert joined["role"] == "member"
    recv = await viewer.transport("recv")
    consumed = await viewer.consume(recv, producer_id)
    await viewer.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    await viewer.ok("rtc:setPreferredLayers", {"consumerId": consumed["id"], "spatialLayer": 0})
    assert await viewer.fail("rtc:createTransport", {"direction": "send"}) == "forbidden"
    assert await viewer.fail("rtc:produce", request_data("rtc:produce")) == "forbidden"
    await speaker.drain()
    assert speaker.saw("rtc:newProducer") == []


async def test_publish_grant_is_per_source(acme, acme_meeting, member, rtc_client,
                                           token_client):
    """publish ["mic"] without subscribe: a mic track is allowed, a webcam track is not, nor
    receiving; screen grants cover screen audio."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "caller", publish=["mic"],
                                                     subscribe=False)
    caller = await token_client(acme_meeting, token)
    await caller.join("Caller")
    send = await caller.transport("send")
    mic = await caller.produce(send, "audio")
    webcam = await caller.request("rtc:produce", {
        "transportId": send, "kind": "video", "rtpParameters": audio_parameters(),
        "appData": {"source": "webcam"}})
    assert webcam["code"] == "forbidden" and webcam["error"] == "you may not publish webcam"
    unnamed = await caller.request("rtc:produce", {
        "transportId": send, "kind": "audio", "rtpParameters": audio_parameters()})
    assert unnamed["code"] == "forbidden" and "appData.source" in unnamed["error"]
    assert await caller.fail("rtc:createTransport", {"direction": "recv"}) == "forbidden"
    listener = await rtc_client(acme_meeting, member)
    await listener.join("Milo")
    assert [p["producers"][0]["id"] for p in listener.joined["peers"]] == [mic]

    presenter_token = await database_sync_to_async(acme.token)(acme_meeting, "presenter",
                                                               publish=["screen"])
    presenter = await token_client(acme_meeting, presenter_token)
    await presenter.join("Presenter")
    screen_send = await presenter.transport("send")
    await presenter.ok("rtc:produce", {"transportId": screen_send, "kind": "audio",
                                       "rtpParameters": audio_parameters(),
                                       "appData": {"source": "screen-audio"}})
    assert await presenter.fail("rtc:produce", {
        "transportId": screen_send, "kind": "audio", "rtpParameters": audio_parameters(),
        "appData": {"source": "mic"}}) == "forbidden"


async def test_host_grant_allows_host_actions(acme, acme_meeting, member, rtc_client,
                                              token_client):
    """Without the host grant a token peer may not mute or remove; with it, it may."""
    target = await rtc_client(acme_meeting, member)
    await target.join("Milo")
    producer_id = await target.produce(await target.transport("send"), "audio")
    plain = await token_client(acme_meeting,
                               await database_sync_to_async(acme.token)(acme_meeting, "p"))
    await plain.join("Plain")
    assert await plain.fail("rtc:hostMuteProducer", {"producerId": producer_id}) == "forbidden"
    assert await plain.fail("rtc:hostRemovePeer",
                            {"peerId": target.joined["peerId"]}) == "forbidden"
    moderator = await token_client(
        acme_meeting, await database_sync_to_async(acme.token)(acme_meeting, "mod", host=True))
    joined = await moderator.join("Moderator")
    assert joined["role"] == "host"
    muted = await moderator.ok("rtc:hostMuteProducer", {"producerId": producer_id})
    assert muted["type"] == "rtc:hostMuted"
    assert (await target.event("rtc:producerPaused"))["producerId"] == producer_id
    await moderator.ok("rtc:hostRemovePeer", {"peerId": target.joined["peerId"]})
    assert (await target.event("rtc:removed"))["reason"] == "host"


async def test_hidden_peer_is_never_announced_or_listed(acme, acme_meeting, member,
                                                        rtc_client, token_client):
    """A hidden token (a recorder): the others get no peerJoined/peerLeft for it and do not
    see it in their peer lists; it sees them and receives their tracks; it cannot publish."""
    visible = await rtc_client(acme_meeting, member)
    await visible.join("Milo")
    producer_id = await visible.produce(await visible.transport("send"), "audio")
    token = await database_sync_to_async(acme.token)(acme_meeting, "recorder", hidden=True)
    recorder = await token_client(acme_meeting, token)
    joined = await recorder.join("Recorder")
    assert [p["peerId"] for p in joined["peers"]] == [visible.joined["peerId"]]
    consumed = await recorder.consume(await recorder.transport("recv"), producer_id)
    assert consumed["producerId"] == producer_id
    refused = await recorder.request("rtc:createTransport", {"direction": "send"})
    assert refused["code"] == "forbidden" and refused["error"] == "hidden peers cannot publish"
    late = await token_client(acme_meeting,
                              await database_sync_to_async(acme.token)(acme_meeting, "late"))
    late_joined = await late.join("Late")
    assert [p["peerId"] for p in late_joined["peers"]] == [visible.joined["peerId"]]
    await recorder.ok("rtc:leave")
    await visible.drain()
    assert [e["displayName"] for e in visible.saw("rtc:peerJoined")] == ["Late"]
    assert visible.saw("rtc:peerLeft") == []


async def test_changed_grants_refuse_unmuting_a_track_no_longer_allowed(
        acme_meeting, member, rtc_client):
    """A signed-in user is unrestricted until its grants change during the call; then
    resuming a paused mic is forbidden, while pausing and closing stay allowed."""
    speaker = await rtc_client(acme_meeting, member)
    await speaker.join("Milo")
    producer_id = await speaker.produce(await speaker.transport("send"), "audio")
    await speaker.ok("rtc:pauseProducer", {"producerId": producer_id})
    await speaker.ok("rtc:resumeProducer", {"producerId": producer_id})
    await speaker.ok("rtc:pauseProducer", {"producerId": producer_id})
    grant_store.set(acme_meeting.id, member.pk, Grants(publish=frozenset({"webcam"})))
    reply = await speaker.request("rtc:resumeProducer", {"producerId": producer_id})
    assert reply["code"] == "forbidden" and reply["error"] == "you may not publish mic"
    await speaker.ok("rtc:pauseProducer", {"producerId": producer_id})
    await speaker.ok("rtc:closeProducer", {"producerId": producer_id})
