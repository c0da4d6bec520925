"""A real call recorded by the real recorder: pymediasoup peers send a tone and a moving
pattern through the worker, each track goes through a PlainTransport into FFmpeg, and the
tracks are composed into one WebM that is probed and decoded again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from recordings import processing
from tests.recordings.conftest import (
    close_peers,
    decode_errors,
    ffprobe,
    mean_volume,
    tile_contrast,
)
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

LATE_JOIN_AT = 4.0
RECORD_FOR = 10.0


async def _ready(api: Any, url: str, timeout: float = 120) -> dict[str, Any]:
    async def settled() -> dict[str, Any] | None:
        body = (await api.get(url)).json()
        return body if body["status"] in ("ready", "failed") else None

    return await eventually(settled, timeout=timeout, every=0.2, what="the recording settled")


async def test_two_peers_and_a_late_joiner_are_recorded_into_one_playable_file(
        rtc_service, recording_env, peer_in, api_as, meeting, host_user, member_user,
        make_user, tmp_path: Path) -> None:
    """Two peers send a tone and moving video, a third joins about 4 s into a 10 s recording
    and one camera is paused for 2 s: the composed WebM has VP8 video and Opus audio, the
    recorded duration within a second, decodes without an error, has frames throughout and
    audio that is not silent, the late joiner's tile is empty before it joined and shows its
    video after, the paused camera's tile is empty while paused; the track files are gone
    once the file is ready, and no FFmpeg process is left."""
    from meetings import services as meeting_services

    late_user = await asyncio.to_thread(make_user, "lena")
    await asyncio.to_thread(meeting_services.participant_invite, meeting=meeting,
                            actor=host_user, username="lena")
    host = await peer_in(meeting, host_user, "Hazel")
    member = await peer_in(meeting, member_user, "Milo")
    api = await api_as(host_user)
    base = f"/api/meetings/{meeting.id}/recordings/"

    started = time.monotonic()
    response = await api.post(base)
    assert response.status_code == 201, response.content
    recording_id = response.json()["id"]
    assert response.json()["status"] == "recording"
    assert (await api.post(base)).status_code == 409  # one at a time

    await asyncio.sleep(LATE_JOIN_AT)
    joined_at = time.monotonic() - started
    late = await peer_in(meeting, late_user, "Lena")
    published_at = time.monotonic() - started
    # The member turns its camera off (pauses it) for two seconds: its tile is empty then.
    member_video = member.producer_ids["video"]
    await member.request("rtc:pauseProducer", {"producerId": member_video})
    await asyncio.sleep(2.0)
    await member.request("rtc:resumeProducer", {"producerId": member_video})
    resumed_at = time.monotonic() - started
    # About ten seconds, and at least four after the late joiner's tracks are up and the
    # member's camera is back (a busy machine may take a few seconds to set media up).
    until = max(RECORD_FOR, published_at + 4.0, resumed_at + 3.0)
    await asyncio.sleep(max(0.0, until - (time.monotonic() - started)))
    recorded = time.monotonic() - started  # from pressing Record to pressing Stop
    response = await api.post(f"{base}{recording_id}/stop/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "processing"
    room = rtc_service.rooms[str(meeting.id)]
    dump = await room.router.dump()
    calls = {t for peer in room.peers.values() for t in peer.transports}
    assert set(dump["transportIds"]) == calls  # the recording's transports are gone
    await close_peers(host, member, late)

    await processing.wait_idle()
    body = await _ready(api, f"{base}{recording_id}/")
    assert body["status"] == "ready", body
    assert abs(body["duration"] - recorded) < 1.0, (body["duration"], recorded)
    assert body["file"].endswith(f"/recordings/{recording_id}/file/")

    download = await api.get(body["file"])
    assert download.status_code == 200
    path = tmp_path / "composed.webm"
    path.write_bytes(b"".join([chunk async for chunk in download.streaming_content]))
    assert path.stat().st_size == body["size"]

    info = ffprobe(path, "format=duration,format_name", "stream=codec_type,codec_name")
    assert "webm" in info["format"]["format_name"]
    codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    assert codecs == {"video": "vp8", "audio": "opus"}
    assert abs(float(info["format"]["duration"]) - recorded) < 1.0
    assert decode_errors(path) == ""

    frames = ffprobe(path, "frame=pts_time", stream="v:0")["frames"]
    times = [float(f["pts_time"]) for f in frames]
    assert times[0] < 0.1 and times[-1] > recorded - 1.0
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) < 0.2  # throughout
    for start in (0.5, recorded / 2, recorded - 2.0):
        assert mean_volume(path, start, 1.5) > -45, start  # the tones, not silence

    from recordings.models import Recording

    recording = await Recording.objects.aget(pk=recording_id)
    tiles = recording.details["layout"]["tiles"]
    assert set(tiles) == {host.peer_id, member.peer_id, late.peer_id}
    late_video = [seg for seg in recording.details["segments"]
                  if seg["peer_id"] == late.peer_id and seg["kind"] == "video"]
    assert late_video and late_video[0]["start"] >= joined_at - 0.2, (late_video, joined_at)
    assert late_video[0]["start"] <= published_at + 3.0, (late_video, published_at)
    spreads = tile_contrast(path, tiles[late.peer_id])  # two samples a second
    before = spreads[: int((joined_at - 0.5) * 2)]
    after = spreads[int((late_video[0]["start"] + 1.0) * 2): int((recorded - 0.5) * 2)]
    assert before and max(before) < 2.0, before  # the flat background
    assert after and min(after) > 10.0, after  # the moving pattern
    for peer in (host, member):
        [first] = [seg["start"] for seg in recording.details["segments"]
                   if seg["peer_id"] == peer.peer_id and seg["kind"] == "video"]
        assert first < 2.0  # recorded from (about) the start
        early = tile_contrast(path, tiles[peer.peer_id])[int((first + 0.5) * 2):
                                                         int(joined_at * 2)]
        assert early and min(early) > 10.0, early
    [paused] = [seg["pauses"] for seg in recording.details["segments"]
                if seg["producer_id"] == member_video]
    assert len(paused) == 1 and 1.5 < paused[0][1] - paused[0][0] < 3.0, paused
    during = tile_contrast(path, tiles[member.peer_id])[int((paused[0][0] + 0.3) * 2):
                                                        int((paused[0][1] - 0.3) * 2)]
    assert during and max(during) < 2.0, during  # the background while paused
    assert not Path(recording.work_dir).exists()  # track files removed once ready
