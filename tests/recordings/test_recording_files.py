"""Stored recordings: range requests (seeking), downloads, retention, the admin list, and the
recovery at start-up of what a stopped or crashed server left unfinished."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from recordings import processing, services
from recordings.models import Recording
from recordings.ranges import parse_range
from recordings.retention import delete_expired
from rtc.recording.session import MANIFEST

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def _track(path: Path, kind: str, seconds: float = 3.0) -> None:
    """A track file as the recorder writes it (Matroska, VP8 or Opus), made by FFmpeg."""
    source = (["-f", "lavfi", "-i", f"testsrc=s=320x240:r=25:d={seconds}", "-c:v", "libvpx"]
              if kind == "video" else
              ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:a", "libopus"])
    subprocess.run(["ffmpeg", "-v", "error", "-y", *source, str(path)], check=True)


def _segment(name: str, kind: str, start: float, end: float | None,
             source: str) -> dict[str, Any]:
    return {"file": name, "producer_id": f"p-{name}", "peer_id": "peer-1", "user_id": 1,
            "display_name": "Hazel", "kind": kind, "source": source, "codec": "", "start": start,
            "end": end, "pauses": [], "end_reason": "stopped" if end else ""}


def _left_behind(recording: Recording, *, final: bool) -> None:
    """The work directory of a recording whose server went away: two tracks and the
    manifest (written every few seconds while recording; ``final`` once stopped)."""
    directory = Path(recording.work_dir)
    directory.mkdir(parents=True)
    _track(directory / "001-audio.mkv", "audio")
    _track(directory / "002-video.mkv", "video")
    (directory / MANIFEST).write_text(json.dumps({
        "version": 1, "recordingId": str(recording.pk), "meetingId": str(recording.meeting_id),
        "startedAt": recording.started_at.isoformat(), "duration": 2.0 if not final else 3.5,
        "final": final, "stopReason": "", "incidents": [],
        "segments": [_segment("001-audio.mkv", "audio", 0.2, None if not final else 3.2, "mic"),
                     _segment("002-video.mkv", "video", 0.3, None if not final else 3.3,
                              "webcam")]}))


def _new_recording(meeting: Any, user: Any, root: Path) -> Recording:
    return services.recording_create(meeting_id=meeting.pk, started_by_id=user.pk,
                                     work_root=root, node="test-node")


@pytest.fixture
def ready(recording_env: Path, meeting: Any, host_user: Any, tmp_path: Path) -> Recording:
    """A ready recording whose stored file is a short real WebM."""
    recording = _new_recording(meeting, host_user, recording_env / "work")
    services.recording_mark_processing(recording_id=recording.pk, ended_at=None, duration=3.0,
                                       stop_reason="stopped")
    source = tmp_path / "composed.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=s=160x90:r=10:d=3", "-c:v", "libvpx", str(source)], check=True)
    return services.recording_mark_ready(recording_id=recording.pk, path=source, duration=3.0,
                                         details={})


def test_ranges_are_parsed_like_browsers_send_them() -> None:
    """bytes=a-b, a-, -n; beyond the end, reversed and zero-length suffixes are
    unsatisfiable; other units and several ranges fall back to the whole file."""
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=900-", 1000) == (900, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=-5000", 1000) == (0, 999)
    assert parse_range("bytes=990-5000", 1000) == (990, 999)
    assert parse_range("bytes=1000-", 1000) is False
    assert parse_range("bytes=50-10", 1000) is False
    assert parse_range("bytes=-0", 1000) is False
    assert parse_range(None, 1000) is None
    assert parse_range("bytes=0-1,5-6", 1000) is None
    assert parse_range("items=0-1", 1000) is None
    assert parse_range("bytes=-", 1000) is None


async def test_the_file_is_served_with_ranges(ready, api_as, host_user, member_user,
                                              outsider_user) -> None:
    """Whole file (200, Accept-Ranges), a range (206 with Content-Range), a suffix range, an
    unsatisfiable range (416), a download (attachment), for the host and a member alike, and
    404 for a stranger; a video element's Accept header does not matter."""
    url = f"/api/meetings/{ready.meeting_id}/recordings/{ready.pk}/file/"
    content = Path(ready.file.path).read_bytes()
    size = len(content)
    for user in (host_user, member_user):
        api = await api_as(user)
        whole = await api.get(url, Accept="video/webm,video/*;q=0.9")
        assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
        assert whole["Content-Type"] == "video/webm" and int(whole["Content-Length"]) == size
        assert b"".join([c async for c in whole.streaming_content]) == content
        part = await api.get(url, Range="bytes=100-199")
        assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{size}"
        assert b"".join([c async for c in part.streaming_content]) == content[100:200]
        tail = await api.get(url, Range="bytes=-50")
        assert tail.status_code == 206
        assert b"".join([c async for c in tail.streaming_content]) == content[-50:]
        beyond = await api.get(url, Range=f"bytes={size}-")
        assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{size}"
    download = await (await api_as(host_user)).get(url + "?download=1")
    assert download["Content-Disposition"].startswith("attachment;")
    assert (await (await api_as(outsider_user)).get(url)).status_code == 404
    detail = await (await api_as(member_user)).get(url.removesuffix("file/"))
    assert detail.json()["file"] == f"http://testserver{url}"
    assert detail.json()["size"] == size and detail.json()["duration"] == 3.0


def test_the_sync_path_serves_ranges_too(ready, client_for, host_user) -> None:
    """Under WSGI (the sync test client) the same ranges come from plain reads."""
    url = f"/api/meetings/{ready.meeting_id}/recordings/{ready.pk}/file/"
    part = client_for(host_user).get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == Path(ready.file.path).read_bytes()[10:20]


def test_a_missing_stored_file_answers_404(ready, client_for, host_user) -> None:
    """The row says ready but the storage lost the file: 404, not a crash."""
    Path(ready.file.path).unlink()
    url = f"/api/meetings/{ready.meeting_id}/recordings/{ready.pk}/file/"
    assert client_for(host_user).get(url).status_code == 404


def test_retention_deletes_old_finished_recordings_with_their_files(
        recording_env, ready, meeting, host_user, rtc_settings) -> None:
    """Older than RECORDING_RETENTION_DAYS and finished: deleted with its stored file and
    track files; recent ones and running ones stay; 0 days keeps everything."""
    stored = Path(ready.file.path)
    old = timezone.now() - timedelta(days=40)
    Recording.objects.filter(pk=ready.pk).update(started_at=old)
    running = _new_recording(meeting, host_user, recording_env / "work")
    Recording.objects.filter(pk=running.pk).update(started_at=old)
    assert delete_expired(days=0) == 0
    call_command("recordings_retention")  # the setting: 30 days
    assert not Recording.objects.filter(pk=ready.pk).exists() and not stored.exists()
    assert Recording.objects.filter(pk=running.pk).exists()
    assert delete_expired(days=30) == 0


def test_the_admin_lists_recordings_with_status_and_size(ready, make_user) -> None:
    """Staff see the list (status, duration, size), filter it, open one, and delete it with
    its file through the admin's action."""
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/recordings/recording/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Ready" in text and "0:03" in text and str(ready.pk) in text
    assert client.get("/admin/recordings/recording/?status__exact=failed").status_code == 200
    assert client.get(f"/admin/recordings/recording/{ready.pk}/change/").status_code == 200
    stored = Path(ready.file.path)
    done = client.post("/admin/recordings/recording/", {
        "action": "delete_with_files", "_selected_action": [str(ready.pk)]}, follow=True)
    assert done.status_code == 200 and not Recording.objects.exists() and not stored.exists()


async def test_a_recording_left_by_a_crashed_server_is_finished_at_start(
        recording_env, meeting, host_user) -> None:
    """A row still `recording` (the server died) with the manifest written while recording:
    at start-up its open segments end where their files end and the file is composed."""
    from channels.db import database_sync_to_async

    recording = await database_sync_to_async(_new_recording)(meeting, host_user,
                                                               recording_env / "work")
    await database_sync_to_async(_left_behind)(recording, final=False)
    await processing.on_server_start()
    await processing.wait_idle()
    recording = await Recording.objects.aget(pk=recording.pk)
    assert recording.status == "ready", recording.failure_reason
    assert recording.stop_reason == "server_restarted"
    assert 3.0 < recording.duration < 4.0  # the video ends at 0.3 + 3 s
    assert recording.size > 0 and not Path(recording.work_dir).exists()


async def _recovered(recording: Recording, *, duration: float, stop_reason: str) -> Recording:
    """Leave ``recording`` in ``processing`` as a stopping server does, run the start-up
    recovery (which takes this one recording) to its end; the row after."""
    from channels.db import database_sync_to_async

    await database_sync_to_async(services.recording_mark_processing)(
        recording_id=recording.pk, ended_at=None, duration=duration, stop_reason=stop_reason)
    assert await processing.recover() == 1
    await processing.wait_idle()
    return await Recording.objects.aget(pk=recording.pk)


async def test_a_processing_recording_is_composed_at_start(recording_env, meeting,
                                                           host_user) -> None:
    """A row in `processing` (the server stopped before composing) is composed at start-up;
    one whose files are gone fails with a reason and keeps nothing half done."""
    from channels.db import database_sync_to_async

    first = await database_sync_to_async(_new_recording)(meeting, host_user,
                                                           recording_env / "work")
    await database_sync_to_async(_left_behind)(first, final=True)
    first = await _recovered(first, duration=3.5, stop_reason="server_shutdown")
    assert first.status == "ready" and first.stop_reason == "server_shutdown"

    second = await database_sync_to_async(_new_recording)(meeting, host_user,
                                                            recording_env / "work")
    second = await _recovered(second, duration=1.0, stop_reason="stopped")
    assert second.status == "failed" and second.failure_reason == "no media was recorded"


async def test_unreadable_tracks_fail_the_composition_and_stay(recording_env, meeting,
                                                              host_user) -> None:
    """Track files FFmpeg cannot read are left out; with nothing left the recording fails
    with a reason and its work directory (the partial media) is kept."""
    from channels.db import database_sync_to_async

    recording = await database_sync_to_async(_new_recording)(meeting, host_user,
                                                               recording_env / "work")
    await database_sync_to_async(_left_behind)(recording, final=True)
    directory = Path(recording.work_dir)
    for name in ("001-audio.mkv", "002-video.mkv"):
        (directory / name).write_bytes(b"not a matroska file")
    await database_sync_to_async(services.recording_mark_processing)(
        recording_id=recording.pk, ended_at=None, duration=3.5, stop_reason="stopped")
    await processing.process(recording.pk)
    recording = await Recording.objects.aget(pk=recording.pk)
    assert recording.status == "failed" and recording.failure_reason == "no media was recorded"
    assert directory.exists()
    shutil.rmtree(directory)


def test_the_host_deletes_a_recording_from_the_meeting_page(ready, host_user, member_user,
                                                            outsider_user) -> None:
    """The meeting page's Delete (a POST): a stranger gets 404, a member 403, the host is sent
    back to the meeting page with the recording and its stored file gone; GET is refused."""
    url = f"/meetings/{ready.meeting_id}/recordings/{ready.pk}/delete/"
    stored = Path(ready.file.path)

    def signed_in(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    assert signed_in(outsider_user).post(url).status_code == 404
    assert signed_in(member_user).post(url).status_code == 403
    assert signed_in(host_user).get(url).status_code == 405
    done = signed_in(host_user).post(url)
    assert done.status_code == 302
    assert done["Location"] == f"/meetings/{ready.meeting_id}/details/"
    assert not Recording.objects.filter(pk=ready.pk).exists() and not stored.exists()
