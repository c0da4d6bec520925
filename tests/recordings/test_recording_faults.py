"""Faults during a recording, with real media: the worker killed (the call moves to a new
router, the recording goes on with a gap), FFmpeg killed (the track gets a new file after a
short gap), the server stopping (tracks finished, composed at the next start). No FFmpeg
process and no session is left behind (checked by ``recording_env``)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from recordings import processing
from recordings.models import Recording
from rtc.recording.manager import recorder
from tests.recordings.conftest import close_peers, decode_errors, ffprobe, tile_contrast
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


async def _until(predicate: Any, timeout: float = 30, what: str = "") -> None:
    await eventually(predicate, timeout=timeout, what=what)


async def _start(api: Any, meeting: Any) -> str:
    response = await api.post(f"/api/meetings/{meeting.id}/recordings/")
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


async def _recording(api: Any, meeting: Any, *, tracks: int,
                     seconds: float) -> tuple[str, Any]:
    """Start recording ``meeting``, wait for its session's ``tracks`` tracks, let them record
    ``seconds``: the recording's id and the session."""
    rid = await _start(api, meeting)
    session = recorder.active(meeting.id)
    await _until(lambda: len(session.tracks) == tracks, what=f"{tracks} tracks")
    await asyncio.sleep(seconds)
    return rid, session


async def _stop_and_settle(api: Any, meeting: Any, rid: str) -> Recording:
    response = await api.post(f"/api/meetings/{meeting.id}/recordings/{rid}/stop/")
    assert response.status_code == 200, response.content
    await processing.wait_idle()
    return await Recording.objects.aget(pk=rid)


async def _download(api: Any, recording: Recording, path: Path) -> Path:
    url = f"/api/meetings/{recording.meeting_id}/recordings/{recording.pk}/file/"
    response = await api.get(url)
    path.write_bytes(b"".join([c async for c in response.streaming_content]))
    return path


async def test_a_worker_killed_mid_recording_leaves_a_gap_and_the_recording_goes_on(
        rtc_service, recording_env, peer_in, api_as, meeting, host_user, member_user,
        tmp_path) -> None:
    """SIGKILL the worker 3 s in: the call moves to a new router, the peers publish again,
    the recording records their new producers; the file is ready, as long as the recording,
    each camera's tile shows the pattern before the kill and again after the peers came back,
    the incident is noted, and both routers' recording transports are gone."""
    host = await peer_in(meeting, host_user, "Hazel")
    member = await peer_in(meeting, member_user, "Milo")
    api = await api_as(host_user)
    started = time.monotonic()
    rid, session = await _recording(api, meeting, tracks=4, seconds=3.0)
    worker = rtc_service.mediasoup.workers[0]
    killed_at = time.monotonic() - started
    os.kill(worker.pid, signal.SIGKILL)
    for peer in (host, member):
        await peer.client.event("rtc:reconnect", timeout=20)
    await rtc_service.wait_idle()
    await asyncio.gather(host.reconnect(), member.reconnect())
    await _until(lambda: len(session.tracks) == 4, what="the tracks again")
    back_at = time.monotonic() - started
    await asyncio.sleep(4.0)
    recording = await _stop_and_settle(api, meeting, rid)
    await close_peers(host, member)

    assert recording.status == "ready", recording.failure_reason
    kinds = [i["kind"] for i in recording.details["incidents"]]
    assert "media_server_restarted" in kinds, recording.details["incidents"]
    for peer in (host, member):
        videos = [s for s in recording.details["segments"]
                  if s["peer_id"] == peer.peer_id and s["kind"] == "video"]
        assert [s["end_reason"] for s in videos] == ["router_closed", "stopped"], videos
        assert videos[1]["start"] > videos[0]["end"] > videos[0]["start"] + 2.0  # a gap
    path = await _download(api, recording, tmp_path / "after-kill.webm")
    assert decode_errors(path) == ""
    assert abs(float(ffprobe(path, "format=duration")["format"]["duration"])
               - recording.duration) < 0.5
    tiles = recording.details["layout"]["tiles"]
    for peer in (host, member):
        spreads = tile_contrast(path, tiles[peer.peer_id])
        first = next(s["start"] for s in recording.details["segments"]
                     if s["peer_id"] == peer.peer_id and s["kind"] == "video")
        assert min(spreads[int((first + 0.5) * 2):int(killed_at * 2)]) > 10.0
        assert min(spreads[int((back_at + 1.0) * 2):int((recording.duration - 0.5) * 2)]) > 10
    dumps = await rtc_service.worker_dumps()
    assert all(not d["routerIds"] for d in dumps)


async def test_ffmpeg_killed_mid_recording_gets_a_new_file_after_a_gap(
        rtc_service, recording_env, peer_in, api_as, meeting, host_user, member_user,
        tmp_path) -> None:
    """SIGKILL the FFmpeg of one video track: the incident is noted, the track is recorded
    again into a new file, the recording ends ready; the killed file is used if FFmpeg
    managed to write a readable part, else left out."""
    host = await peer_in(meeting, host_user, "Hazel")
    member = await peer_in(meeting, member_user, "Milo")
    api = await api_as(host_user)
    rid, session = await _recording(api, meeting, tracks=4, seconds=2.5)
    producer_id = host.producer_ids["video"]
    victim = session.tracks[producer_id]
    os.kill(victim.tool.pid, signal.SIGKILL)
    await _until(lambda: producer_id in session.tracks and session.tracks[producer_id]
                 is not victim and session.tracks[producer_id].started.is_set(),
                 what="the track restarted")
    await asyncio.sleep(3.0)
    recording = await _stop_and_settle(api, meeting, rid)
    await close_peers(host, member)

    assert recording.status == "ready", recording.failure_reason
    incidents = recording.details["incidents"]
    assert any(i["kind"] == "tool_exited" and i["producerId"] == producer_id
               and "killed" in i["detail"] for i in incidents), incidents
    videos = [s for s in recording.details["segments"] if s["producer_id"] == producer_id]
    assert [s["end_reason"] for s in videos] == ["killed", "stopped"]
    assert videos[1]["start"] > videos[0]["end"]  # a gap, not an overlap
    path = await _download(api, recording, tmp_path / "after-tool-kill.webm")
    assert decode_errors(path) == ""
    spreads = tile_contrast(path, recording.details["layout"]["tiles"][host.peer_id])
    assert min(spreads[int((videos[1]["start"] + 1.0) * 2):
                       int((recording.duration - 0.5) * 2)]) > 10.0


async def test_the_server_stopping_finishes_the_files_and_the_next_start_composes_them(
        rtc_service, recording_env, peer_in, api_as, meeting, host_user, member_user) -> None:
    """The server's shutdown stops the recorder first: every track file is finished, the
    recording is `processing` (server_shutdown) and nothing is composed while stopping; the
    next start composes it (`ready`)."""
    host = await peer_in(meeting, host_user, "Hazel")
    api = await api_as(host_user)
    rid, session = await _recording(api, meeting, tracks=2, seconds=3.0)
    assert await recorder.close() == 1  # what rtc.lifecycle.shutdown.shutdown() does first
    await host.close()
    await rtc_service.close()
    recording = await Recording.objects.aget(pk=rid)
    assert recording.status == "processing" and recording.stop_reason == "server_shutdown"
    await processing.wait_idle()
    assert (await Recording.objects.aget(pk=rid)).status == "processing"  # not composed yet

    recorder.closing = False  # a new process
    await processing.on_server_start()
    await processing.wait_idle()
    recording = await Recording.objects.aget(pk=rid)
    assert recording.status == "ready", recording.failure_reason
    assert recording.duration > 2.5
