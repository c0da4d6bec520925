"""Webhooks from a real call: a token peer joins, publishes, unpublishes, leaves, the meeting
ends; the local receiver gets every event, signed, naming the integration's identity. And a
receiver that hangs never slows signaling down."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from integrations import events
from integrations.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_call_produces_the_webhook_sequence(hooked, hooked_meeting, token_client,
                                                    webhook_receiver):
    """join → meeting.started + participant.joined; produce → track.published; close →
    track.unpublished; end → participant.left + meeting.ended. Every request verifies."""
    token = await database_sync_to_async(hooked.token)(hooked_meeting, "user-7", name="Grace")
    grace = await token_client(hooked_meeting, token)
    await grace.join("Grace")
    mic = await grace.produce(await grace.transport("send"), "audio")
    await grace.ok("rtc:closeProducer", {"producerId": mic})
    await events.pending_emits()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=hooked.bearer)
    ended = await sync_to_async(client.post)(f"/api/integrations/live/{hooked_meeting.id}/end/")
    assert ended.status_code == 200
    await asyncio.to_thread(webhook_receiver.wait_for, 6)
    got = webhook_receiver.events()
    assert all(r.error == "" for r in webhook_receiver.requests)
    assert [e["type"] for e in got] == ["meeting.started", "participant.joined",
                                        "track.published", "track.unpublished",
                                        "participant.left", "meeting.ended"]
    person = got[1]["data"]["participant"]
    assert person["identity"] == "user-7" and person["name"] == "Grace"
    assert person["external"] is True
    published = got[2]["data"]
    assert published["track"] == {"id": mic, "kind": "audio", "source": "mic"}
    assert published["participant"]["identity"] == "user-7"
    assert published["participant"]["peerId"] == grace.joined["peerId"]
    assert got[3]["data"]["track"]["id"] == mic
    assert got[4]["data"]["participant"]["identity"] == "user-7"
    assert got[5]["data"]["meeting"]["status"] == "ended"


async def test_a_peer_leaving_unpublishes_its_tracks(hooked, hooked_meeting, token_client,
                                                     webhook_receiver):
    """Tracks that end because their peer left are reported too (the producer's close is
    observed, whatever closed it)."""
    token = await database_sync_to_async(hooked.token)(hooked_meeting, "user-8")
    peer = await token_client(hooked_meeting, token)
    await peer.join("Eight")
    send = await peer.transport("send")
    mic = await peer.produce(send, "audio")
    cam = await peer.produce(send, "video")
    await peer.ok("rtc:leave")
    await events.pending_emits()
    await asyncio.to_thread(webhook_receiver.wait_for, 6)
    tracks = [(e["type"], e["data"]["track"]["id"]) for e in webhook_receiver.events()
              if e["type"].startswith("track.")]
    assert sorted(tracks) == sorted([("track.published", mic), ("track.published", cam),
                                     ("track.unpublished", mic), ("track.unpublished", cam)])


async def test_a_hanging_receiver_never_slows_signaling(hooked, hooked_meeting, token_client,
                                                        webhook_receiver, settings):
    """While the receiver holds the first webhook, joining and producing still answer at
    once; the events are delivered once it answers."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "WEBHOOK_TIMEOUT": 6}
    webhook_receiver.hold_first = True
    token = await database_sync_to_async(hooked.token)(hooked_meeting, "user-9")
    peer = await token_client(hooked_meeting, token)
    await asyncio.to_thread(webhook_receiver.wait_for, 0)
    started = time.monotonic()
    await peer.join("Nine")
    send = await peer.transport("send")
    await peer.produce(send, "audio")
    await peer.produce(send, "video")
    took = time.monotonic() - started
    assert took < 2.0, f"signaling waited {took:.2f}s (the receiver holds the first webhook)"
    await events.pending_emits()
    webhook_receiver.release.set()
    await asyncio.to_thread(webhook_receiver.wait_for, 4, 15)
    delivered = await database_sync_to_async(
        lambda: sorted(WebhookDelivery.objects.values_list("event_type", flat=True)))()
    assert delivered == sorted(["meeting.started", "participant.joined", "track.published",
                                "track.published"])
