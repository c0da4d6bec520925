"""Composed recordings kept in S3-compatible storage (django-storages' ``S3Storage``) on a real
local S3 server (moto's server mode over HTTP on loopback): stored under the meeting's key,
served with ranges through ranged GETs, 404 when the object is gone, deleted with the
recording and by retention."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from recordings import services
from recordings.models import Recording
from recordings.retention import delete_expired
from recordings.storage import RangedObject, recording_storage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture
def s3_env(recording_env: Path, rtc_settings: Any, local_s3: Any) -> Any:
    """The recordings storage is the local S3 server's bucket (under ``prefix/``)."""
    rtc_settings.STORAGES = {
        **rtc_settings.STORAGES,
        "recordings": {"BACKEND": "storages.backends.s3.S3Storage",
                       "OPTIONS": local_s3.options(location="prefix")},
    }
    return local_s3


def _ready(meeting: Any, user: Any, root: Path, source: Path) -> Recording:
    recording = services.recording_create(meeting_id=meeting.pk, started_by_id=user.pk,
                                          work_root=root, node="test-node")
    services.recording_mark_processing(recording_id=recording.pk, ended_at=None, duration=3.0,
                                       stop_reason="stopped")
    return services.recording_mark_ready(recording_id=recording.pk, path=source, duration=3.0,
                                         details={})


async def test_recordings_are_stored_served_and_deleted_in_s3(
        s3_env, recording_env, meeting, host_user, api_as, outsider_user) -> None:
    """The composed file is uploaded to the bucket under the meeting's key; the API serves it
    whole and by ranges (each read is one ranged GET of the object, not a download of the
    whole object), 404 to a stranger and once the object is gone; deleting the recording
    deletes its object, and retention deletes old ones."""
    source = recording_env / "composed.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=s=160x90:r=10:d=3", "-c:v", "libvpx", str(source)], check=True)
    content = source.read_bytes()
    ready = await database_sync_to_async(_ready)(meeting, host_user, recording_env / "work",
                                                 source)
    key = f"prefix/{meeting.pk}/{ready.pk}.webm"
    assert s3_env.keys() == [key]
    assert ready.size == len(content) and ready.file.name == f"{meeting.pk}/{ready.pk}.webm"
    handle = recording_storage().open_ranged(ready.file.name)
    assert isinstance(handle, RangedObject)
    handle.seek(len(content) - 10)
    assert handle.read() == content[-10:]
    handle.close()

    api = await api_as(host_user)
    url = f"/api/meetings/{meeting.pk}/recordings/{ready.pk}/file/"
    whole = await api.get(url)
    assert whole.status_code == 200 and int(whole["Content-Length"]) == len(content)
    assert b"".join([c async for c in whole.streaming_content]) == content
    part = await api.get(url, Range="bytes=1000-1999")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 1000-1999/{len(content)}"
    assert b"".join([c async for c in part.streaming_content]) == content[1000:2000]
    assert (await (await api_as(outsider_user)).get(url)).status_code == 404

    second = await database_sync_to_async(_ready)(meeting, host_user, recording_env / "work",
                                                  source)
    assert len(s3_env.keys()) == 2
    await database_sync_to_async(services.recording_delete)(recording=second)
    assert s3_env.keys() == [key]
    s3_env.client().delete_object(Bucket=s3_env.bucket, Key=key)
    assert (await api.get(url)).status_code == 404  # the object is gone: not a crash

    third = await database_sync_to_async(_ready)(meeting, host_user, recording_env / "work",
                                                 source)
    await Recording.objects.filter(pk=third.pk).aupdate(
        started_at=timezone.now() - timedelta(days=40))
    assert await database_sync_to_async(delete_expired)(days=30) == 1
    assert s3_env.keys() == []
    assert not await Recording.objects.filter(pk=third.pk).aexists()
