"""The authorization matrix: (anonymous, signed-in non-member, member, host, staff) × (every API
endpoint, the operations pages, the meeting WebSocket, every rtc request), each cell with the
status, close code or reply code it must give.

The meeting is invited-only, hosted by the host, with the member invited; the non-member and
the staff user are neither. API calls authenticate with the role's DRF token (as API clients
do), the operations pages with its session. For the rtc requests the staff user is invited to
the meeting as a plain member (staff may not enter others' calls otherwise, see the socket
row), which shows that being staff adds ``rtc:serverStats`` and nothing else.
(Integration keys and join-token grants have their own matrix in tests/integrations.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from meetings import services
from rtc.services import set_room_service
from rtc.services.mediasoup_service import MediasoupService
from rtc.services.room_service import RoomService
from rtc.websocket.envelope import registry
from tests.rtc.conftest import DTLS_PARAMETERS, RtcClient, audio_parameters, video_parameters

ROLES = ("anonymous", "outsider", "member", "host", "staff")
M = "/api/meetings/{id}/"
LIVE = "/api/integrations/live/{id}/"

# (method, path, body) → expected status for anonymous, outsider, member, host, staff.
API_MATRIX: list[tuple[str, str, Any, tuple[int, ...]]] = [
    ("GET", "/api/meetings/", None, (401, 200, 200, 200, 200)),
    ("POST", "/api/meetings/", {"title": "Mine"}, (401, 201, 201, 201, 201)),
    ("GET", M, None, (401, 404, 200, 200, 404)),
    ("PATCH", M, {"title": "Renamed"}, (401, 404, 403, 200, 404)),
    ("PUT", M, {"title": "Replaced"}, (401, 404, 403, 200, 404)),
    ("DELETE", M, None, (401, 404, 403, 204, 404)),
    ("POST", M + "end/", None, (401, 404, 403, 200, 404)),
    ("GET", M + "participants/", None, (401, 404, 200, 200, 404)),
    ("POST", M + "participants/", {"username": "otto"}, (401, 404, 403, 201, 404)),
    ("DELETE", M + "participants/milo/", None, (401, 404, 403, 204, 404)),
    ("GET", "/api/integrations/meetings/", None, (401, 403, 403, 403, 200)),
    ("POST", "/api/integrations/meetings/", {"title": "x"}, (401, 403, 403, 403, 403)),
    ("GET", "/api/integrations/live/", None, (401, 403, 403, 403, 200)),
    ("GET", LIVE, None, (401, 403, 403, 403, 404)),
    ("POST", LIVE + "end/", None, (401, 403, 403, 403, 200)),
    ("POST", LIVE + "tracks/p1/mute/", None, (401, 403, 403, 403, 404)),
    ("POST", LIVE + "peers/x1/remove/", None, (401, 403, 403, 403, 404)),
    ("PATCH", LIVE + "peers/x1/grants/", {"publish": []}, (401, 403, 403, 403, 404)),
    ("POST", "/api/integrations/tokens/", {"meetingId": "{id}", "identity": "a"},
     (401, 403, 403, 403, 403)),
    ("POST", "/api/integrations/tokens/revoke/", {"jti": "abc"}, (401, 403, 403, 403, 403)),
    ("GET", "/api/schema/", None, (200, 200, 200, 200, 200)),
    ("GET", "/healthz", None, (200, 200, 200, 200, 200)),
]


@pytest.fixture
def people(host_user: Any, member_user: Any, outsider_user: Any, make_user: Any) -> dict:
    """A user of each role (None for anonymous) and the invited-only meeting."""
    meeting = services.meeting_create(host=host_user, title="Matrix")
    services.participant_invite(meeting=meeting, actor=host_user, username=member_user.username)
    return {"anonymous": None, "outsider": outsider_user, "member": member_user,
            "host": host_user, "staff": make_user("stella", is_staff=True), "meeting": meeting}


@pytest.fixture
def idle_room_service() -> Iterator[RoomService]:
    """A RoomService of its own that never starts (the live-room API only reads it)."""
    service = RoomService(MediasoupService())
    previous = set_room_service(service)
    yield service
    set_room_service(previous)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "expected"), API_MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in API_MATRIX])
def test_api_authorization(people: dict, idle_room_service: RoomService, role: str,
                           method: str, path: str, body: Any, expected: tuple[int, ...]) -> None:
    """Each API endpoint answers each role with its status in the matrix."""
    client = APIClient()
    user = people[role]
    if user is not None:
        token = Token.objects.get_or_create(user=user)[0].key
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    meeting_id = str(people["meeting"].id)
    if body is not None:
        body = {k: v.replace("{id}", meeting_id) if isinstance(v, str) else v
                for k, v in body.items()}
    response = client.generic(method, path.replace("{id}", meeting_id),
                              data=None if body is None else json.dumps(body),
                              content_type="application/json")
    want = expected[ROLES.index(role)]
    assert response.status_code == want, (role, method, path, response.content[:300])
    if want >= 400 and path.startswith("/api/"):
        assert response.json().get("detail"), response.content


# --- operations pages (session) -----------------------------------------------------------------

PAGES = [("/metrics", (401, 403, 403, 403, 200)), ("/admin/live/", (302, 302, 302, 302, 200))]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
async def test_operations_pages_authorization(people: dict, rtc_service: RoomService,
                                              role: str, settings: Any) -> None:
    """/metrics and the admin live page: staff sessions only (no metrics token is set);
    the live page sends everyone else to the admin login."""
    settings.METRICS_TOKEN = ""
    client = AsyncClient()
    if people[role] is not None:
        await client.aforce_login(people[role])
    for path, expected in PAGES:
        response = await client.get(path)
        assert response.status_code == expected[ROLES.index(role)], (role, path)
        if response.status_code == 302:
            assert "/admin/login/" in response["Location"]


# --- the meeting WebSocket ------------------------------------------------------------------------

SOCKET = {"anonymous": 4401, "outsider": 4403, "member": "accepted", "host": "accepted",
          "staff": 4403}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
async def test_socket_connect_authorization(people: dict, rtc_service: RoomService,
                                            ws_communicator: Any, ws_expect_close: Any,
                                            role: str) -> None:
    """Anonymous: 4401; not invited (staff included): 4403; member and host: the meeting's
    state."""
    ws = await ws_communicator(people["meeting"].id, user=people[role])
    connected, _ = await ws.connect(timeout=5)
    assert connected, "refusals come as close codes after the accept"
    if SOCKET[role] == "accepted":
        assert (await ws.receive_json_from(timeout=5))["type"] == "meeting.state"
    else:
        assert await ws_expect_close(ws) == SOCKET[role]


# --- every rtc request ----------------------------------------------------------------------------

OK, DENY = "ok", "forbidden"
# request (and what it targets) → expected reply for member, host, staff (invited as member).
RTC_MATRIX: list[tuple[str, tuple[str, str, str]]] = [
    ("rtc:join", (OK, OK, OK)),
    ("rtc:createTransport", (OK, OK, OK)),
    ("rtc:connectTransport", (OK, OK, OK)),
    ("rtc:produce", (OK, OK, OK)),
    ("rtc:pauseProducer", (OK, OK, OK)),
    ("rtc:resumeProducer", (OK, OK, OK)),
    ("rtc:consume", (OK, OK, OK)),
    ("rtc:pauseConsumer", (OK, OK, OK)),
    ("rtc:resumeConsumer", (OK, OK, OK)),
    ("rtc:setPreferredLayers", (OK, OK, OK)),
    ("rtc:getStats", (OK, OK, OK)),
    ("rtc:restartIce", (OK, OK, OK)),
    ("rtc:closeConsumer", (OK, OK, OK)),
    ("rtc:closeProducer", (OK, OK, OK)),
    ("rtc:closeTransport", (OK, OK, OK)),
    ("rtc:pauseProducer of another peer", (DENY, DENY, DENY)),
    ("rtc:closeProducer of another peer", (DENY, DENY, DENY)),
    ("rtc:hostMuteProducer", (DENY, OK, DENY)),
    ("rtc:serverStats", (DENY, DENY, OK)),
    ("rtc:startRecording", (DENY, OK, DENY)),
    ("rtc:stopRecording", (DENY, OK, DENY)),
    ("rtc:hostRemovePeer", (DENY, OK, DENY)),
    ("rtc:leave", (OK, OK, OK)),
]


async def _rtc_outcomes(me: RtcClient, victim: dict[str, str]) -> dict[str, str]:
    """Run every rtc request in a meaningful order; each one's outcome (ok or its code)."""
    outcomes: dict[str, str] = {}
    ids: dict[str, str] = {}

    async def run(label: str, data: dict[str, Any], keep: str | None = None) -> None:
        reply = await me.request(label.split(" ")[0], data)
        outcomes[label] = reply.get("code", "ok")
        if keep and "data" in reply:
            ids[keep] = reply["data"]["id"]

    await run("rtc:join", {"displayName": "Me"})
    caps = victim["caps"]
    await run("rtc:createTransport", {"direction": "send"}, keep="send")
    await run("rtc:connectTransport", {"transportId": ids["send"],
                                       "dtlsParameters": DTLS_PARAMETERS})
    recv = await me.ok("rtc:createTransport", {"direction": "recv"})
    await run("rtc:produce", {"transportId": ids["send"], "kind": "audio",
                              "rtpParameters": audio_parameters(),
                              "appData": {"source": "mic"}}, keep="producer")
    await run("rtc:pauseProducer", {"producerId": ids["producer"]})
    await run("rtc:resumeProducer", {"producerId": ids["producer"]})
    await run("rtc:consume", {"transportId": recv["id"], "producerId": victim["video"],
                              "rtpCapabilities": caps}, keep="consumer")
    await run("rtc:pauseConsumer", {"consumerId": ids["consumer"]})
    await run("rtc:resumeConsumer", {"consumerId": ids["consumer"]})
    await run("rtc:setPreferredLayers", {"consumerId": ids["consumer"], "spatialLayer": 0})
    await run("rtc:getStats", {"transportId": ids["send"]})
    await run("rtc:restartIce", {"transportId": ids["send"]})
    await run("rtc:closeConsumer", {"consumerId": ids["consumer"]})
    await run("rtc:closeProducer", {"producerId": ids["producer"]})
    await run("rtc:closeTransport", {"transportId": recv["id"]})
    await run("rtc:pauseProducer of another peer", {"producerId": victim["audio"]})
    await run("rtc:closeProducer of another peer", {"producerId": victim["audio"]})
    await run("rtc:hostMuteProducer", {"producerId": victim["audio"]})
    await run("rtc:serverStats", {})
    await run("rtc:startRecording", {})
    await run("rtc:stopRecording", {})
    await run("rtc:hostRemovePeer", {"peerId": victim["peer"]})
    await run("rtc:leave", {})
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
async def test_rtc_request_authorization(people: dict, rtc_service: RoomService,
                                         rtc_client: Any, ws_communicator: Any,
                                         ws_expect_close: Any, make_user: Any,
                                         role: str) -> None:
    """Every rtc request as each role, against a victim peer that sends audio and video:
    anonymous and non-members never get a socket to send them on; members, the host and
    (invited) staff get exactly the outcomes of the matrix."""
    meeting, host = people["meeting"], people["host"]
    if role in ("anonymous", "outsider"):
        ws = await ws_communicator(meeting.id, user=people[role])
        await ws.connect(timeout=5)
        assert await ws_expect_close(ws) == SOCKET[role]
        assert rtc_service.rooms == {}
        return
    victim_user = await database_sync_to_async(make_user)("victor")
    for name in ("victor", "stella"):
        await database_sync_to_async(services.participant_invite)(
            meeting=meeting, actor=host, username=name)
    victim = await rtc_client(meeting, victim_user)
    joined = await victim.join("Victor")
    send = await victim.transport("send")
    audio = await victim.produce(send, "audio")
    video = (await victim.ok("rtc:produce", {
        "transportId": send, "kind": "video", "rtpParameters": video_parameters(),
        "appData": {"source": "webcam"}}))["id"]
    me = await rtc_client(meeting, people[role])
    outcomes = await _rtc_outcomes(me, {"peer": joined["peerId"], "audio": audio,
                                        "video": video,
                                        "caps": joined["routerRtpCapabilities"]})
    column = ("member", "host", "staff").index(role)
    expected = {label: cells[column] for label, cells in RTC_MATRIX}
    assert outcomes == expected
    covered = {label.split(" ")[0] for label, _ in RTC_MATRIX}
    assert {t for t in registry.types if t.startswith("rtc:")} == covered, "a request is missing"
