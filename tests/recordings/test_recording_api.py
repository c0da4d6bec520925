"""The recordings API and socket requests: who may do what (host 201, member 403, stranger
404, the 409 cases), the response shapes, deleting, and the call page's events.

A recording here runs on a real call (a real worker, a peer joined over the real socket) that
sends no media: it stops with no track to compose, so it ends ``failed`` with "no media was
recorded"; what is composed from real media is shown in ``test_recording_e2e``."""

from __future__ import annotations

import uuid

import pytest

from recordings import processing
from recordings.models import Recording
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

FIELDS = {"id", "status", "started_at", "ended_at", "duration", "size", "file",
          "failure_reason"}


async def _settled(recording_id: str) -> Recording:
    """The recording once it is ready or failed: its stop is written by a listener that runs
    after rtc:recordingStopped went out (on PostgreSQL often after the test has read it), and
    the composition it schedules then runs in the background."""
    async def done() -> bool:
        await processing.wait_idle()
        recording = await Recording.objects.aget(pk=recording_id)
        return recording.status in (Recording.Status.READY, Recording.Status.FAILED)

    await eventually(done, timeout=60, what=f"recording {recording_id} settled")
    return await Recording.objects.aget(pk=recording_id)


async def test_every_endpoint_answers_each_role(rtc_service, recording_env, rtc_client, api_as,
                                                meeting, host_user, member_user,
                                                outsider_user) -> None:
    """Start: no call 409, member 403, stranger 404, host 201 {id, status}, again 409. Read:
    host and member 200 (exactly the documented fields), stranger 404. Delete while
    recording 409. Stop: member 403, stranger 404, host 200, again 409. File: 404 until
    ready. Delete: member 403, stranger 404, host 204, then 404."""
    host, member, stranger = (await api_as(host_user), await api_as(member_user),
                              await api_as(outsider_user))
    anonymous = await api_as()
    base = f"/api/meetings/{meeting.id}/recordings/"

    no_call = await host.post(base)
    assert no_call.status_code == 409, no_call.json()
    assert no_call.json() == {"detail": "The meeting has no call in progress.",
                              "code": "conflict"}
    peer = await rtc_client(meeting, host_user)
    await peer.join("Hazel")

    assert (await anonymous.post(base)).status_code == 401
    assert (await member.post(base)).status_code == 403
    assert (await stranger.post(base)).status_code == 404
    assert (await host.post(f"/api/meetings/{uuid.uuid4()}/recordings/")).status_code == 404
    created = await host.post(base)
    assert created.status_code == 201, created.content
    assert set(created.json()) == {"id", "status"} and created.json()["status"] == "recording"
    rid = created.json()["id"]
    again = await host.post(base)
    assert again.status_code == 409 and again.json()["code"] == "conflict"

    one = f"{base}{rid}/"
    for client in (host, member):
        listed = await client.get(base)
        assert listed.status_code == 200 and [r["id"] for r in listed.json()] == [rid]
        detail = await client.get(one)
        assert detail.status_code == 200 and set(detail.json()) == FIELDS
        assert detail.json()["status"] == "recording" and detail.json()["file"] is None
    for path in (base, one, f"{one}file/"):
        assert (await stranger.get(path)).status_code == 404
    assert (await host.get(f"{base}{uuid.uuid4()}/")).status_code == 404
    assert (await host.delete(one)).status_code == 409

    assert (await member.post(f"{one}stop/")).status_code == 403
    assert (await stranger.post(f"{one}stop/")).status_code == 404
    stopped = await host.post(f"{one}stop/")
    assert stopped.status_code == 200, stopped.content
    assert stopped.json()["status"] == "processing" and stopped.json()["ended_at"]
    assert (await host.post(f"{one}stop/")).status_code == 409

    recording = await _settled(rid)
    assert recording.status == "failed" and recording.failure_reason == "no media was recorded"
    assert recording.stop_reason == "stopped"
    assert (await host.get(f"{one}file/")).status_code == 404
    assert (await member.delete(one)).status_code == 403
    assert (await stranger.delete(one)).status_code == 404
    assert (await host.delete(one)).status_code == 204
    assert (await host.get(one)).status_code == 404
    assert not await Recording.objects.filter(pk=rid).aexists()


async def test_the_socket_starts_and_stops_and_everyone_is_told(rtc_service, recording_env,
                                                                 rtc_client, meeting,
                                                                 host_user, member_user) -> None:
    """The host's rtc:startRecording is answered and every peer gets rtc:recordingStarted; a
    member's is forbidden; a peer joining meanwhile learns it from rtc:joined; the host's
    rtc:stopRecording makes everyone get rtc:recordingStopped; a second stop is a conflict."""
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    assert (await host.join("Hazel"))["recording"] is None
    await member.join("Milo")
    assert await member.fail("rtc:startRecording") == "forbidden"
    started = await host.ok("rtc:startRecording")
    assert started["type"] == "rtc:recordingStarted" and started["status"] == "recording"
    for client in (host, member):
        event = await client.event("rtc:recordingStarted")
        assert event["recordingId"] == started["recordingId"] and event["startedBy"] == "Hazel"
    assert await host.fail("rtc:startRecording") == "conflict"
    await member.ok("rtc:leave")
    rejoined = await member.join("Milo")
    assert rejoined["recording"]["recordingId"] == started["recordingId"]
    assert await member.fail("rtc:stopRecording") == "forbidden"
    stopped = await host.ok("rtc:stopRecording")
    assert stopped["status"] == "processing"
    for client in (host, member):
        event = await client.event("rtc:recordingStopped")
        assert event == {"recordingId": started["recordingId"], "reason": "stopped"}
    assert await host.fail("rtc:stopRecording") == "conflict"
    assert (await _settled(started["recordingId"])).status == "failed"
    room = rtc_service.rooms[str(meeting.id)]
    dump = await room.router.dump()
    assert dump["transportIds"] == [], dump  # no recording transport left on the router


async def test_the_recording_stops_when_the_call_ends(rtc_service, recording_env, rtc_client,
                                                      api_as, meeting, host_user) -> None:
    """The last peer leaving ends the call: the recording stops by itself (reason
    call_ended) and everyone still connected was told."""
    host = await rtc_client(meeting, host_user)
    await host.join("Hazel")
    rid = (await host.ok("rtc:startRecording"))["recordingId"]
    await host.ok("rtc:leave")
    async def stopped() -> bool:
        return (await Recording.objects.aget(pk=rid)).status != "recording"

    await eventually(stopped, what="the recording stopped")
    event = await host.event("rtc:recordingStopped")
    assert event == {"recordingId": rid, "reason": "call_ended"}
    assert (await _settled(rid)).stop_reason == "call_ended"


async def test_a_recording_stops_at_the_maximum_duration(rtc_service, recording_env,
                                                          rtc_client, meeting, host_user,
                                                          rtc_settings) -> None:
    """With a maximum of one second the recording stops by itself (reason max_duration)."""
    rtc_settings.RECORDING = {**rtc_settings.RECORDING, "MAX_DURATION_SECONDS": 1}
    host = await rtc_client(meeting, host_user)
    await host.join("Hazel")
    rid = (await host.ok("rtc:startRecording"))["recordingId"]
    event = await host.event("rtc:recordingStopped", timeout=10)
    assert event == {"recordingId": rid, "reason": "max_duration"}
    recording = await _settled(rid)
    assert recording.stop_reason == "max_duration" and 0.9 < recording.duration < 3


async def test_too_little_disk_space_is_refused(rtc_service, recording_env, rtc_client,
                                                api_as, meeting, host_user,
                                                rtc_settings) -> None:
    """Below RECORDING_MIN_FREE_MB a recording is refused with a clear 409, nothing stored."""
    rtc_settings.RECORDING = {**rtc_settings.RECORDING, "MIN_FREE_MB": 10**9}
    host = await rtc_client(meeting, host_user)
    await host.join("Hazel")
    refused = await (await api_as(host_user)).post(f"/api/meetings/{meeting.id}/recordings/")
    assert refused.status_code == 409
    assert refused.json()["detail"] == "Not enough disk space to record."
    assert not await Recording.objects.aexists()


async def test_an_ended_meeting_cannot_be_recorded(rtc_service, recording_env, rtc_client,
                                                   api_as, meeting, host_user) -> None:
    """The call still open but the meeting marked ended: 409, and no recording row."""
    from meetings.models import Meeting

    host = await rtc_client(meeting, host_user)
    await host.join("Hazel")
    await Meeting.objects.filter(pk=meeting.pk).aupdate(status="ended",
                                                         ended_at=meeting.created_at)
    refused = await (await api_as(host_user)).post(f"/api/meetings/{meeting.id}/recordings/")
    assert refused.status_code == 409 and refused.json()["detail"] == "The meeting has ended."
    assert not await Recording.objects.aexists()


async def test_a_disk_filling_up_stops_the_recording(rtc_service, recording_env, rtc_client,
                                                     meeting, host_user) -> None:
    """Free space falling below the minimum while recording stops it (reason disk_full,
    told to everyone) and fails it with that reason; its files are kept."""
    from pathlib import Path

    from rtc.recording.manager import recorder

    host = await rtc_client(meeting, host_user)
    await host.join("Hazel")
    rid = (await host.ok("rtc:startRecording"))["recordingId"]
    recorder.active(meeting.id).min_free_mb = 10**9  # the disk "fills up"
    event = await host.event("rtc:recordingStopped", timeout=10)
    assert event == {"recordingId": rid, "reason": "disk_full"}
    async def failed() -> bool:  # the event goes out before the outcome is stored
        return (await _settled(rid)).status == "failed"

    await eventually(failed, what="the recording failed")
    recording = await _settled(rid)
    assert recording.failure_reason == "recording stopped: disk full"
    assert Path(recording.work_dir).exists()
