"""A disk that really fills up while recording (a 256 KiB tmpfs as the work directory, the
free-space guard off so FFmpeg itself meets ENOSPC): the recording stops with reason
``disk_full``, everyone is told, the row ends ``failed`` saying so, the partial track files
stay, and no FFmpeg process is left (``recording_env``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recordings import processing
from recordings.models import Recording
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (mounting one needs root, as in CI and on the dev machines)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs here (the test needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_disk_that_really_fills_up_fails_the_recording_with_its_reason(
        rtc_service, recording_env, small_disk, rtc_settings, peer_in, api_as, meeting,
        host_user) -> None:
    """Record one peer's tone and video onto a 256 KiB disk: within seconds FFmpeg cannot
    write; the recording stops (``disk_full``, told to the call), is ``failed`` with
    "recording stopped: disk full", and its partial track files are kept."""
    rtc_settings.RECORDING = {**rtc_settings.RECORDING, "WORK_DIR": small_disk,
                              "MIN_FREE_MB": 0}
    host = await peer_in(meeting, host_user, "Hazel")
    api = await api_as(host_user)
    response = await api.post(f"/api/meetings/{meeting.id}/recordings/")
    assert response.status_code == 201, response.content
    rid = response.json()["id"]
    stopped = await host.client.event("rtc:recordingStopped", timeout=60)
    assert stopped == {"recordingId": rid, "reason": "disk_full"}
    await processing.wait_idle()

    async def settled() -> bool:  # the event goes out before the outcome is stored
        return (await Recording.objects.aget(pk=rid)).status in ("failed", "ready")

    await eventually(settled, what="the recording settled")
    recording: Any = await Recording.objects.aget(pk=rid)
    assert recording.status == "failed", recording.status
    assert recording.failure_reason == "recording stopped: disk full"
    assert recording.stop_reason == "disk_full"
    tracks = sorted(Path(recording.work_dir).glob("*.mkv"))
    assert tracks and sum(t.stat().st_size for t in tracks) > 50_000, tracks
    await host.leave()
