"""Recordings for integrations: the same API under /api/integrations/meetings/<id>/recordings/
with the integration's key (its own meetings only), the `record` grant of join tokens, and the
webhooks recording.started, recording.ready and recording.failed, signed and delivered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from integrations import events
from recordings import processing, services
from recordings.models import Recording
from tests.recordings.conftest import api_as, recording_env  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


async def test_an_integration_records_its_meeting_through_its_api(
        acme, globex, acme_meeting, token_client, recording_env, api_as) -> None:  # noqa: F811
    """Acme's key: 409 without a call, 201 with one, read, stop (200), list; Globex's key
    gets 404 for Acme's meeting everywhere; a recording of nothing ends failed."""
    acme_api = await api_as(authorization=acme.bearer)
    globex_api = await api_as(authorization=globex.bearer)
    base = f"/api/integrations/meetings/{acme_meeting.id}/recordings/"
    assert (await acme_api.post(base)).status_code == 409
    token = await database_sync_to_async(acme.token)(acme_meeting, "ada", name="Ada")
    peer = await token_client(acme_meeting, token)
    await peer.join("Ada")

    assert (await globex_api.post(base)).status_code == 404
    created = await acme_api.post(base)
    assert created.status_code == 201, created.content
    rid = created.json()["id"]
    one = f"{base}{rid}/"
    for path in (base, one, f"{one}file/"):
        assert (await globex_api.get(path)).status_code == 404
    assert (await globex_api.post(f"{one}stop/")).status_code == 404
    assert (await acme_api.get(one)).json()["status"] == "recording"
    stopped = await acme_api.post(f"{one}stop/")
    assert stopped.status_code == 200 and stopped.json()["status"] == "processing"
    await processing.wait_idle()
    listed = (await acme_api.get(base)).json()
    assert [(r["id"], r["status"]) for r in listed] == [(rid, "failed")]
    recording = await Recording.objects.select_related("started_by").aget(pk=rid)
    assert recording.started_by_id == acme.integration.owner_id
    assert (await globex_api.delete(one)).status_code == 404
    assert (await acme_api.delete(one)).status_code == 204


async def test_the_record_grant_lets_a_token_peer_record(acme, acme_meeting, token_client,
                                                         recording_env) -> None:  # noqa: F811
    """A token with `record` starts and stops the recording over the socket; one without is
    refused by the grant check; a `host` token may record too."""
    plain = await token_client(acme_meeting, await database_sync_to_async(acme.token)(
        acme_meeting, "guest"))
    recorder_peer = await token_client(acme_meeting, await database_sync_to_async(acme.token)(
        acme_meeting, "rec-bot", record=True, publish=()))
    await plain.join("Guest")
    await recorder_peer.join("Recorder")
    reply = await plain.request("rtc:startRecording", {})
    assert reply["code"] == "forbidden" and reply["error"] == "you may not record this call"
    started = await recorder_peer.ok("rtc:startRecording")
    assert (await plain.event("rtc:recordingStarted"))["recordingId"] == started["recordingId"]
    assert (await recorder_peer.ok("rtc:stopRecording"))["status"] == "processing"
    await processing.wait_idle()


async def test_recording_webhooks_are_signed_and_delivered(
        hooked, hooked_meeting, token_client, webhook_receiver, recording_env,  # noqa: F811
        tmp_path: Path) -> None:
    """recording.started when it starts, recording.failed (with its reason) for a recording
    of nothing, recording.ready (size, duration) once a file is stored."""
    token = await database_sync_to_async(hooked.token)(hooked_meeting, "boss", host=True)
    boss = await token_client(hooked_meeting, token)
    await boss.join("Boss")
    started = await boss.ok("rtc:startRecording")
    await boss.ok("rtc:stopRecording")
    await processing.wait_idle()
    await events.pending_emits()
    await asyncio.to_thread(webhook_receiver.wait_for, 4)  # started, joined, + 2 recording
    got = [e for e in webhook_receiver.events() if e["type"].startswith("recording.")]
    assert [e["type"] for e in got] == ["recording.started", "recording.failed"]
    assert all(r.error == "" for r in webhook_receiver.requests)
    assert got[0]["data"]["recording"]["id"] == started["recordingId"]
    assert got[0]["data"]["meeting"] == {"id": str(hooked_meeting.id)}
    assert got[1]["data"]["recording"]["failureReason"] == "no media was recorded"

    def ready_one() -> Recording:
        recording = services.recording_create(meeting_id=hooked_meeting.pk, started_by_id=None,
                                              work_root=tmp_path, node="n")
        services.recording_mark_processing(recording_id=recording.pk, ended_at=None,
                                           duration=1.0, stop_reason="stopped")
        source = tmp_path / "file.webm"
        source.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 100)
        return services.recording_mark_ready(recording_id=recording.pk, path=source,
                                             duration=1.0, details={})

    ready = await database_sync_to_async(ready_one)()
    await asyncio.to_thread(webhook_receiver.wait_for, 6)
    last = [e for e in webhook_receiver.events() if e["type"] == "recording.ready"]
    assert len(last) == 1 and last[0]["data"]["recording"]["size"] == ready.size == 104
    assert json.dumps(last[0])  # plain JSON
