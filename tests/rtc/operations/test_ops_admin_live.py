"""The admin's live page: staff see each live call's peers and media with figures, and can mute
a track or remove a peer, which the call is told about; nobody else sees or changes anything."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)

LIVE = "/admin/live/"


async def _call(rtc_client, meeting, host_user, member_user):
    """Hazel (host) and Milo in a call: each sends audio, Hazel receives Milo's."""
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join("Hazel")
    await member.join("Milo")
    host_producer = await host.produce(await host.transport("send"), "audio")
    member_producer = await member.produce(await member.transport("send"), "audio")
    consumed = await host.consume(await host.transport("recv"), member_producer)
    return host, member, host_producer, member_producer, consumed["id"]


async def _staff_client(make_staff) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(await database_sync_to_async(make_staff)())
    return client


async def test_staff_see_live_calls_with_their_peers_and_media(
        rtc_service, rtc_client, make_staff, meeting, host_user, member_user):
    """The page lists the meeting by title with both peers, their transports, producers and
    consumer, each with its figures; with no call left it says so."""
    host, member, host_producer, member_producer, consumer_id = await _call(
        rtc_client, meeting, host_user, member_user)
    client = await _staff_client(make_staff)
    response = await client.get(LIVE)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="room-{meeting.id}"' in page
    assert "Weekly sync" in page
    for peer in (host, member):
        assert f'id="peer-{peer.joined["peerId"]}"' in page
    assert "<strong>Hazel</strong> (host)" in page and "<strong>Milo</strong> (member)" in page
    for producer_id in (host_producer, member_producer):
        assert f'id="producer-{producer_id}"' in page
    assert f'id="consumer-{consumer_id}"' in page
    assert "audio from Milo" in page
    assert "ICE new, DTLS connecting" in page or "ICE new, DTLS new" in page
    assert response.context["totals"] == {"rooms": 1, "peers": 2, "producers": 2,
                                          "consumers": 1}
    assert response.context["sample"] == {"errors": 0, "missingNodes": []}
    room = response.context["rooms"][0]
    rows = {t["id"]: t for p in room["peers"] for t in p["transports"]}
    assert len(rows) == 3 and all(t["stats"] for t in rows.values())

    await host.ok("rtc:leave")
    await member.ok("rtc:leave")
    response = await client.get(LIVE)
    assert 'id="live-empty"' in response.content.decode()


async def test_staff_mute_a_track_and_remove_a_peer(
        rtc_service, rtc_client, make_staff, meeting, host_user, member_user):
    """Mute: Milo's producer pauses and the call (Milo included) gets rtc:producerPaused.
    Remove: Milo gets rtc:removed, Hazel rtc:peerLeft, his media is gone, and he cannot join
    this call again. A POST without the CSRF token changes nothing."""
    host, member, _, member_producer, consumer_id = await _call(
        rtc_client, meeting, host_user, member_user)
    room = rtc_service.rooms[str(meeting.id)]
    milo = room.peer(member.joined["peerId"])
    staff = await database_sync_to_async(make_staff)()

    strict = AsyncClient(enforce_csrf_checks=True)
    await strict.aforce_login(staff)
    refused = await strict.post(LIVE, {"action": "mute", "meeting": str(meeting.id),
                                       "producer": member_producer})
    assert refused.status_code == 403
    assert not milo.producers[member_producer].paused

    client = AsyncClient()
    await client.aforce_login(staff)
    response = await client.post(LIVE, {"action": "mute", "meeting": str(meeting.id),
                                        "producer": member_producer})
    assert response.status_code == 302 and response["Location"] == LIVE
    assert milo.producers[member_producer].paused
    expected = {"peerId": milo.id, "producerId": member_producer, "byHost": True}
    assert await host.event("rtc:producerPaused") == expected
    assert await member.event("rtc:producerPaused") == expected
    page = (await client.get(LIVE)).content.decode()
    assert "Muted a track of Milo." in page

    response = await client.post(LIVE, {"action": "remove", "meeting": str(meeting.id),
                                        "peer": milo.id})
    assert response.status_code == 302
    assert await member.event("rtc:removed") == {"reason": "staff"}
    assert (await host.event("rtc:peerLeft")) == {"peerId": milo.id, "reason": "removed"}
    assert (await host.event("rtc:consumerClosed"))["consumerId"] == consumer_id
    assert milo.closed and milo.id not in room.peers
    assert rtc_service.counts()["peers"] == 1 and rtc_service.counts()["producers"] == 1
    assert await member.fail("rtc:join", {"displayName": "Milo again"}) == "forbidden"

    response = await client.post(LIVE, {"action": "remove", "meeting": str(meeting.id),
                                        "peer": milo.id})
    assert response.status_code == 302
    assert '<li class="error">Peer not found</li>' in (await client.get(LIVE)).content.decode()
    await host.ok("rtc:leave")


async def test_non_staff_are_sent_to_login_and_change_nothing(
        rtc_service, rtc_client, meeting, host_user, member_user):
    """The meeting's own host (not staff) and anonymous visitors are redirected to the admin
    login, for GET and POST alike; the producer they tried to mute keeps playing."""
    host, member, _, member_producer, _ = await _call(rtc_client, meeting, host_user,
                                                      member_user)
    signed_in = AsyncClient()
    await signed_in.aforce_login(host_user)
    for client in (AsyncClient(), signed_in):
        response = await client.get(LIVE)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=/admin/live/")
        response = await client.post(LIVE, {"action": "mute", "meeting": str(meeting.id),
                                            "producer": member_producer})
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
    room = rtc_service.rooms[str(meeting.id)]
    assert not room.peer(member.joined["peerId"]).producers[member_producer].paused
    await member.drain()
    assert member.saw("rtc:producerPaused") == []
    await host.ok("rtc:leave")
    await member.ok("rtc:leave")
