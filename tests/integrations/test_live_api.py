"""The live-room API over real calls: who may see and drive which meeting, and what each action
does to the call (peers told, media closed, grants enforced afterwards)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from meetings.models import Meeting
from rtc.services import get_room_service
from tests.rtc.conftest import audio_parameters, video_parameters

pytestmark = pytest.mark.django_db(transaction=True)

LIVE = "/api/integrations/live/"


def client_with(authorization: str | None = None) -> APIClient:
    """A DRF client sending `authorization`."""
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


async def call(client: APIClient, method: str, path: str, data: Any = None) -> Any:
    """Send a request from an async test (the view hands live work back to this loop)."""
    return await sync_to_async(getattr(client, method))(path, data, format="json")


async def joined_guest(keyed, meeting, token_client, identity: str, **claims: Any):
    """A token peer joined to the meeting's call."""
    token = await database_sync_to_async(keyed.token)(meeting, identity, **claims)
    client = await token_client(meeting, token)
    await client.join(identity.title())
    return client


@pytest.fixture
def staff_client(make_user):
    """A staff user's API client (DRF token)."""
    from rest_framework.authtoken.models import Token

    user = make_user("sam", is_staff=True)
    return client_with(f"Token {Token.objects.create(user=user).key}")


def test_anonymous_plain_users_and_bad_keys_are_refused(acme, make_user):
    """No credentials: 401 with a Bearer challenge; a non-staff user: 403; a wrong secret, an
    unknown key or a revoked integration: 401."""
    from rest_framework.authtoken.models import Token

    from integrations import services

    anonymous = client_with().get(LIVE)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == 'Bearer realm="api"'
    user = make_user("pat")
    assert client_with(f"Token {Token.objects.create(user=user).key}").get(LIVE
                                                                          ).status_code == 403
    assert client_with(f"Bearer {acme.api_key}:sk_wrong").get(LIVE).status_code == 401
    assert client_with(f"Bearer ak_unknownunknown:{acme.secret}").get(LIVE).status_code == 401
    assert client_with(f"Bearer {acme.api_key}").get(LIVE).status_code == 401
    assert client_with(acme.bearer).get(LIVE).status_code == 200
    services.integration_revoke(integration=acme.integration)
    revoked = client_with(acme.bearer).get(LIVE)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def test_an_api_key_is_not_its_owner_elsewhere(acme):
    """The key authenticates the integrations API only: the meetings API refuses it."""
    assert client_with(acme.bearer).get("/api/meetings/").status_code == 401


def test_meetings_list_and_create(acme, globex, acme_meeting, globex_meeting, staff_client):
    """An integration lists only its meetings and creates meetings it owns (hosted by its
    owner); staff list every meeting but cannot create one without a key."""
    mine = client_with(acme.bearer).get("/api/integrations/meetings/").json()["results"]
    assert [m["id"] for m in mine] == [str(acme_meeting.id)]
    created = client_with(acme.bearer).post("/api/integrations/meetings/",
                                            {"title": " Launch ", "capacity": 5}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["title"] == "Launch" and body["capacity"] == 5 and body["status"] == "scheduled"
    assert body["ws_path"] == f"/ws/meetings/{body['id']}/"
    meeting = Meeting.objects.get(pk=body["id"])
    assert meeting.host == acme.integration.owner
    assert meeting.integration_link.integration == acme.integration
    everyone = staff_client.get("/api/integrations/meetings/").json()["results"]
    assert {m["id"] for m in everyone} >= {str(acme_meeting.id), str(globex_meeting.id)}
    assert staff_client.post("/api/integrations/meetings/", {"title": "x"}).status_code == 403
    assert client_with(globex.bearer).get("/api/integrations/meetings/").json()["count"] == 1


async def test_each_integration_sees_only_its_live_calls(acme, globex, acme_meeting,
                                                         globex_meeting, token_client,
                                                         staff_client):
    """A and B each see their own call with its peers (named by the token's identity) and
    tracks; staff see both."""
    ada = await joined_guest(acme, acme_meeting, token_client, "ada")
    mic = await ada.produce(await ada.transport("send"), "audio")
    await joined_guest(globex, globex_meeting, token_client, "bob", publish=[])
    seen = (await call(client_with(acme.bearer), "get", LIVE)).json()
    assert seen == [{
        "meeting_id": str(acme_meeting.id), "title": "Acme standup", "node": "",
        "peers": [{"peer_id": ada.joined["peerId"], "user_id": seen[0]["peers"][0]["user_id"],
                   "identity": "ada", "display_name": "Ada", "role": "member", "hidden": False,
                   "connected": True,
                   "grants": {"publish": ["mic", "webcam", "screen"], "subscribe": True,
                              "hidden": False, "host": False, "record": False,
                              "chat": True, "whiteboard": True},
                   "tracks": [{"id": mic, "kind": "audio", "source": "mic", "paused": False}]}],
    }]
    theirs = (await call(client_with(globex.bearer), "get", LIVE)).json()
    assert [m["meeting_id"] for m in theirs] == [str(globex_meeting.id)]
    assert theirs[0]["peers"][0]["grants"]["publish"] == []
    everything = (await call(staff_client, "get", LIVE)).json()
    assert {m["meeting_id"] for m in everything} == {str(acme_meeting.id),
                                                     str(globex_meeting.id)}
    detail = await call(client_with(acme.bearer), "get", f"{LIVE}{acme_meeting.id}/")
    assert detail.status_code == 200 and detail.json() == seen[0]


async def test_another_integrations_meeting_is_untouchable(acme, globex, acme_meeting,
                                                           token_client):
    """B gets 404 for everything on A's meeting, exactly as for a meeting that does not
    exist; A's call is unchanged afterwards."""
    ada = await joined_guest(acme, acme_meeting, token_client, "ada")
    mic = await ada.produce(await ada.transport("send"), "audio")
    peer_id = ada.joined["peerId"]
    b = client_with(globex.bearer)
    base = f"{LIVE}{acme_meeting.id}/"
    attempts = [("get", base, None), ("post", f"{base}end/", None),
                ("post", f"{base}tracks/{mic}/mute/", None),
                ("post", f"{base}peers/{peer_id}/remove/", None),
                ("patch", f"{base}peers/{peer_id}/grants/", {"publish": []})]
    for method, path, data in attempts:
        answer = await call(b, method, path, data)
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.json() == {"detail": "Meeting not found.", "code": "not_found"}
    room = get_room_service().rooms[str(acme_meeting.id)]
    assert list(room.peers) == [peer_id] and not room.peers[peer_id].producers[mic].paused
    assert (await database_sync_to_async(Meeting.objects.get)(pk=acme_meeting.pk)).status == \
        "live"
    await ada.drain()
    assert ada.saw("rtc:grantsUpdated") == [] and ada.saw("rtc:producerPaused") == []


async def test_mute_a_track(acme, acme_meeting, token_client):
    """Muting pauses the producer; the owner and the others are told."""
    ada = await joined_guest(acme, acme_meeting, token_client, "ada")
    bob = await joined_guest(acme, acme_meeting, token_client, "bob")
    mic = await ada.produce(await ada.transport("send"), "audio")
    answer = await call(client_with(acme.bearer), "post",
                        f"{LIVE}{acme_meeting.id}/tracks/{mic}/mute/")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["tracks"] == [{"id": mic, "kind": "audio", "source": "mic",
                                        "paused": True}]
    assert (await ada.event("rtc:producerPaused"))["producerId"] == mic
    assert (await bob.event("rtc:producerPaused", producerId=mic))["byHost"] is True
    missing = await call(client_with(acme.bearer), "post",
                         f"{LIVE}{acme_meeting.id}/tracks/nope/mute/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_remove_a_peer(acme, acme_meeting, token_client):
    """Removal tells the peer and the others, frees its media, and its identity cannot
    rejoin this call."""
    ada = await joined_guest(acme, acme_meeting, token_client, "ada")
    bob = await joined_guest(acme, acme_meeting, token_client, "bob")
    await bob.produce(await bob.transport("send"), "audio")
    answer = await call(client_with(acme.bearer), "post",
                        f"{LIVE}{acme_meeting.id}/peers/{bob.joined['peerId']}/remove/")
    assert answer.status_code == 204
    assert (await bob.event("rtc:removed"))["reason"] == "staff"
    assert (await ada.event("rtc:peerLeft"))["peerId"] == bob.joined["peerId"]
    assert get_room_service().counts()["producers"] == 0
    again = await joined_guest_refused(acme, acme_meeting, token_client, "bob")
    assert again == "forbidden"


async def joined_guest_refused(keyed, meeting, token_client, identity: str) -> str:
    """The error code of a token peer's rtc:join."""
    token = await database_sync_to_async(keyed.token)(meeting, identity)
    client = await token_client(meeting, token)
    return await client.fail("rtc:join", {"displayName": identity})


async def test_change_grants_of_a_connected_peer(acme, acme_meeting, token_client, token_socket):
    """Revoking webcam closes that track now (the others get producerClosed, the peer
    grantsUpdated) and refuses it later, also after a reconnect with the same token; revoking
    subscribe closes its consumers; hidden cannot change."""
    ada = await joined_guest(acme, acme_meeting, token_client, "ada")
    bob = await joined_guest(acme, acme_meeting, token_client, "bob")
    send = await ada.transport("send")
    mic = await ada.produce(send, "audio")
    webcam_reply = await ada.ok("rtc:produce", {"transportId": send, "kind": "video",
                                                "rtpParameters": video_parameters(),
                                                "appData": {"source": "webcam"}})
    webcam = webcam_reply["id"]
    consumed = await bob.consume(await bob.transport("recv"), mic)
    grants_url = f"{LIVE}{acme_meeting.id}/peers/{ada.joined['peerId']}/grants/"
    answer = await call(client_with(acme.bearer), "patch", grants_url, {"publish": ["mic"]})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["grants"] == {"publish": ["mic"], "subscribe": True, "hidden": False,
                              "host": False, "record": False, "chat": True,
                              "whiteboard": True}
    assert body["closed_producers"] == [webcam] and [t["id"] for t in body["tracks"]] == [mic]
    update = await ada.event("rtc:grantsUpdated")
    assert update["grants"]["publish"] == ["mic"] and update["closedProducers"] == [webcam]
    assert (await bob.event("rtc:producerClosed"))["producerId"] == webcam
    again = await ada.request("rtc:produce", {"transportId": send, "kind": "video",
                                              "rtpParameters": video_parameters(),
                                              "appData": {"source": "webcam"}})
    assert again["code"] == "forbidden"

    answer = await call(client_with(acme.bearer), "patch",
                        f"{LIVE}{acme_meeting.id}/peers/{bob.joined['peerId']}/grants/",
                        {"subscribe": False, "host": True})
    assert answer.status_code == 200 and answer.json()["closed_consumers"] == [consumed["id"]]
    assert answer.json()["role"] == "host"
    assert (await bob.event("rtc:consumerClosed"))["consumerId"] == consumed["id"]
    assert await bob.fail("rtc:consume", {
        "transportId": "x", "producerId": mic,
        "rtpCapabilities": bob.joined["routerRtpCapabilities"]}) == "forbidden"
    hidden = await call(client_with(acme.bearer), "patch", grants_url, {"hidden": True})
    assert hidden.status_code == 400 and "hidden" in hidden.json()["detail"]
    bad = await call(client_with(acme.bearer), "patch", grants_url, {"publish": ["camera"]})
    assert bad.status_code == 400
    empty = await call(client_with(acme.bearer), "patch", grants_url, {})
    assert empty.status_code == 400

    await ada.ws.disconnect()
    await get_room_service().expire_detached()
    token = await database_sync_to_async(acme.token)(acme_meeting, "ada")
    socket = await token_socket(acme_meeting.id, token)
    assert (await socket.connect(timeout=5))[0]
    from tests.rtc.conftest import RtcClient

    back = RtcClient(socket, None)
    await back.event("meeting.state")
    await back.join("Ada")
    reply = await back.request("rtc:createTransport", {"direction": "send"})
    send_again = reply["data"]["id"]
    refused = await back.request("rtc:produce", {"transportId": send_again, "kind": "video",
                                                 "rtpParameters": video_parameters(),
                                                 "appData": {"source": "webcam"}})
    assert refused["code"] == "forbidden", "changed grants outlive a reconnect"
    await back.ok("rtc:produce", {"transportId": send_again, "kind": "audio",
                                  "rtpParameters": audio_parameters(),
                                  "appData": {"source": "mic"}})


async def test_end_a_meeting(acme, acme_meeting, token_client, staff_client):
    """Ending marks the meeting ended, closes its sockets (4410) and empties the call at
    once; ending twice is 410."""
    ada = await joined_guest(acme, acme_meeting, token_client, "ada")
    await ada.produce(await ada.transport("send"), "audio")
    answer = await call(client_with(acme.bearer), "post", f"{LIVE}{acme_meeting.id}/end/")
    assert answer.status_code == 200 and answer.json()["status"] == "ended"
    assert (await ada.event("meeting.ended"))["status"] == "ended"
    while True:
        output = await ada.ws.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            assert output["code"] == 4410
            break
    assert str(acme_meeting.id) not in get_room_service().rooms
    assert (await call(client_with(acme.bearer), "get", LIVE)).json() == []
    again = await call(staff_client, "post", f"{LIVE}{acme_meeting.id}/end/")
    assert again.status_code == 410


async def test_staff_drive_any_meeting(acme, acme_meeting, token_client, staff_client):
    """Staff (no integration) may mute in an integration's meeting."""
    ada = await joined_guest(acme, acme_meeting, token_client, "ada")
    mic = await ada.produce(await ada.transport("send"), "audio")
    answer = await call(staff_client, "post", f"{LIVE}{acme_meeting.id}/tracks/{mic}/mute/")
    assert answer.status_code == 200
    assert (await ada.event("rtc:producerPaused"))["producerId"] == mic


def test_live_detail_of_a_meeting_without_a_call_is_404(acme, acme_meeting):
    """A meeting of the caller with no call in progress: 404 with a reason."""
    answer = client_with(acme.bearer).get(f"{LIVE}{acme_meeting.id}/")
    assert answer.status_code == 404 and answer.json()["detail"] == \
        "No live call for that meeting."


async def test_mint_and_revoke_tokens_through_the_api(acme, globex_meeting, acme_meeting,
                                                      token_socket, settings):
    """The API mints a token that opens the socket; revoking its jti refuses it; another
    integration's meeting is 404 and an over-long ttl 400."""
    acme_api = client_with(acme.bearer)
    minted = await call(acme_api, "post", "/api/integrations/tokens/", {
        "meeting_id": str(acme_meeting.id), "identity": "carol", "name": "Carol",
        "ttl": 600, "grants": {"publish": ["mic"], "subscribe": True}})
    assert minted.status_code == 201, minted.json()
    body = minted.json()
    assert body["ws_path"] == f"/ws/meetings/{acme_meeting.id}/" and body["jti"]
    socket = await token_socket(acme_meeting.id, body["token"])
    assert (await socket.connect(timeout=5))[0]
    assert (await socket.receive_json_from(timeout=5))["type"] == "meeting.state"
    await socket.disconnect()
    revoked = await call(acme_api, "post", "/api/integrations/tokens/revoke/",
                         {"jti": body["jti"]})
    assert revoked.status_code == 204
    refused = await token_socket(acme_meeting.id, body["token"])
    await refused.connect(timeout=5)
    assert (await refused.receive_json_from(timeout=5))["data"]["code"] == "token_revoked"
    foreign = await call(acme_api, "post", "/api/integrations/tokens/",
                         {"meeting_id": str(globex_meeting.id), "identity": "x"})
    assert foreign.status_code == 404
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "TOKEN_MAX_LIFETIME": 3600}
    long = await call(acme_api, "post", "/api/integrations/tokens/",
                      {"meeting_id": str(acme_meeting.id), "identity": "x", "ttl": 7200})
    assert long.status_code == 400 and "3600" in long.json()["detail"]


def test_schema_documents_the_integrations_api(api_client):
    """/api/schema/ stays valid and lists the endpoints with the Bearer scheme."""
    answer = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    schema = answer.json()
    for path in ["/api/integrations/live/", "/api/integrations/live/{meeting_id}/end/",
                 "/api/integrations/live/{meeting_id}/peers/{peer_id}/grants/",
                 "/api/integrations/tokens/", "/api/integrations/meetings/"]:
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["integrationKey"]["scheme"] == "bearer"
