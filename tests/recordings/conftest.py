"""Fixtures of the recording tests: a real worker pool (``tests/rtc``), real FFmpeg, real
media from pymediasoup peers over the meeting socket, the API through Django's AsyncClient
(which runs the ASGI handler on the test's loop, the loop the calls live on, as under daphne).

``recording_env`` points the work directory and the recordings storage at the test's temporary
directory and, at teardown, checks that no FFmpeg process is left and no recording session
runs. :class:`LocalS3` is a real S3-compatible server on loopback (moto's server mode) for the
S3 storage tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient
from rest_framework.authtoken.models import Token

from bots.live_daphne import children_of, free_port
from recordings import processing
from rtc.recording.manager import recorder
from tests.rtc.conftest import rtc_client, rtc_service, rtc_settings  # noqa: F401
from tests.rtc.operations.call_peer import CallPeer
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


def tool_children() -> list[int]:
    """FFmpeg processes started by this process (still running)."""
    found = []
    for pid in children_of(os.getpid()):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if name in ("ffmpeg", "ffprobe"):
            found.append(pid)
    return found


@pytest.fixture
async def recording_env(rtc_settings: Any, tmp_path: Path) -> AsyncIterator[Path]:  # noqa: F811
    """Work directory and storage under ``tmp_path``, a small output frame; no FFmpeg and no
    session left at teardown."""
    storage = tmp_path / "stored"
    rtc_settings.RECORDING = {"WORK_DIR": tmp_path / "work", "MAX_DURATION_SECONDS": 600,
                              "RETENTION_DAYS": 30, "FORMAT": "webm", "WIDTH": 640,
                              "HEIGHT": 360, "MIN_FREE_MB": 1, "NODE": "test-node",
                              "COMPOSE_TIMEOUT_SECONDS": 300}
    rtc_settings.STORAGES = {
        **rtc_settings.STORAGES,
        "recordings": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                       "OPTIONS": {"location": str(storage)}},
    }
    recorder.closing = False
    yield tmp_path
    await processing.wait_idle()
    leftover = [s.recording_id for s in recorder.sessions.values()]
    await recorder.close("test_teardown")
    recorder.closing = False
    recorder.sessions.clear()
    assert not leftover, f"recording sessions left running: {leftover}"
    await eventually(lambda: not tool_children(), timeout=5,
                     what="no FFmpeg process outlives its recording")


class LocalS3:
    """An S3-compatible server on ``127.0.0.1`` (moto's server mode, in a thread of this
    process) with one bucket; :meth:`options` are ``S3Storage``'s options for it."""

    def __init__(self, bucket: str = "") -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:  # pragma: no cover (a dev requirement)
            pytest.fail("moto[server] is not installed (requirements-dev.txt)")
        # moto keeps its buckets per process: each server of a run gets a bucket of its own
        self.bucket = bucket or f"recordings-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        """The server's URL."""
        return f"http://127.0.0.1:{self.port}"

    def options(self, location: str = "") -> dict[str, Any]:
        """The recordings storage's ``OPTIONS`` for this server."""
        return {"bucket_name": self.bucket, "endpoint_url": self.endpoint,
                "access_key": "test-key", "secret_key": "test-secret",
                "region_name": "us-east-1", "addressing_style": "path",
                "location": location, "file_overwrite": False}

    def client(self) -> Any:
        """A boto3 client of the server (to look at the bucket)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test-key", aws_secret_access_key="test-secret")

    def keys(self) -> list[str]:
        """Every key in the bucket."""
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def start(self) -> LocalS3:
        """Serve, with the bucket made."""
        self.server.start()
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


@pytest.fixture(scope="module")
def local_s3() -> Any:
    """A local S3-compatible server with a bucket of its own, for the module."""
    server = LocalS3().start()
    yield server
    server.stop()


@database_sync_to_async
def _token(user: Any) -> str:
    return Token.objects.get_or_create(user=user)[0].key


class Api:
    """Django's AsyncClient sending an ``Authorization`` header with every request."""

    def __init__(self, authorization: str | None) -> None:
        self.client = AsyncClient()
        self.headers = {"Authorization": authorization} if authorization else {}

    async def get(self, path: str, **headers: str) -> Any:
        """GET ``path``."""
        return await self.client.get(path, headers={**self.headers, **headers})

    async def post(self, path: str, data: Any = None) -> Any:
        """POST ``path`` (JSON body when given)."""
        return await self.client.post(path, data or {}, content_type="application/json",
                                      headers=self.headers)

    async def delete(self, path: str) -> Any:
        """DELETE ``path``."""
        return await self.client.delete(path, headers=self.headers)


@pytest.fixture
def api_as() -> Callable[[Any], Awaitable[Api]]:
    """Factory: an API client authenticated with the user's token (None: anonymous), or
    ``api_as(authorization="Bearer ...")`` for an integration."""

    async def make(user: Any = None, *, authorization: str | None = None) -> Api:
        if user is not None:
            authorization = f"Token {await _token(user)}"
        return Api(authorization)

    return make


@pytest.fixture
async def peer_in(rtc_client: Any) -> AsyncIterator[Callable[..., Awaitable[CallPeer]]]:  # noqa: F811
    """Factory: a pymediasoup peer joined to the meeting's call (optionally publishing its
    tone and moving pattern); every one is closed at teardown."""
    made: list[CallPeer] = []

    async def make(meeting: Any, user: Any, name: str, *, publish: bool = True) -> CallPeer:
        peer = CallPeer(await rtc_client(meeting, user), name)
        made.append(peer)
        await peer.join()
        if publish:
            await peer.publish()
        return peer

    yield make
    for peer in made:
        await peer.close()


def ffprobe(path: Path, *entries: str, stream: str | None = None) -> dict[str, Any]:
    """FFprobe's JSON for ``path``."""
    argv = ["ffprobe", "-v", "error", "-of", "json"]
    if stream:
        argv += ["-select_streams", stream]
    argv += ["-show_entries", ":".join(entries) or "format:stream", str(path)]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def decode_errors(path: Path) -> str:
    """What FFmpeg says when it decodes the whole file ('' when it decodes cleanly)."""
    result = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stderr.strip()


def mean_volume(path: Path, start: float, length: float) -> float:
    """The mean audio volume (dB) of ``length`` seconds from ``start``."""
    result = subprocess.run(
        ["ffmpeg", "-v", "info", "-ss", f"{start:.2f}", "-t", f"{length:.2f}", "-i", str(path),
         "-vn", "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True, text=True, check=True)
    for line in result.stderr.splitlines():
        if "mean_volume:" in line:
            return float(line.split("mean_volume:")[1].split()[0])
    return -200.0


def tile_contrast(path: Path, tile: dict[str, int], fps: float = 2.0) -> list[float]:
    """For each sampled frame (``fps`` per second), the spread (standard deviation) of the
    gray levels inside ``tile``: about 0 for the flat background, large for a moving pattern."""
    width, height = 32, 18
    crop = f"crop={tile['w']}:{tile['h']}:{tile['x']}:{tile['y']}"
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-an", "-vf",
         f"fps={fps},{crop},scale={width}:{height},format=gray", "-f", "rawvideo", "-"],
        capture_output=True, check=True)
    size = width * height
    spreads = []
    for offset in range(0, len(result.stdout) - size + 1, size):
        frame = result.stdout[offset:offset + size]
        mean = sum(frame) / size
        spreads.append((sum((p - mean) ** 2 for p in frame) / size) ** 0.5)
    return spreads


async def close_peers(*peers: CallPeer) -> None:
    """Leave the call with every peer (their sockets close with the test)."""
    for peer in peers:
        try:
            await peer.leave()
        except Exception:  # already gone (removed, worker died)
            await peer.close()
