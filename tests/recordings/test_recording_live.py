"""The server stopped for real while it records: a live daphne (its own database) with two
network bots; SIGTERM finishes every track file and stops FFmpeg, the recording is left
`processing`; when daphne starts again it composes it, and the file downloads through the
API. No FFmpeg process of that server is left at any point after it stopped."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bots.live_daphne import LiveDaphne
from tests.rtc.call_client import CallClient
from tests.rtc.live import LiveServer, running, seed
from tests.support.processes import ffmpeg_under
from tests.support.waiting import eventually

pytestmark = [pytest.mark.timeout(300)]

STATUS = """
import json
from recordings.models import Recording
r = Recording.objects.get(pk={rid!r})
print(json.dumps({{"status": r.status, "stop_reason": r.stop_reason, "duration": r.duration,
                  "failure_reason": r.failure_reason}}))
"""


@pytest.fixture
def live() -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    """A daphne (one worker) with ada hosting a meeting and bob invited."""
    with running({"RECORDING_WIDTH": "640", "RECORDING_HEIGHT": "360"}) as server:
        yield server, seed(server)


def _api(server: LiveServer, token: str, method: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{server.url}{path}", method=method,
                                     headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def test_sigterm_mid_recording_then_restart_finishes_the_recording(live) -> None:
    """Record a two-bot call for about 5 s, SIGTERM daphne: no FFmpeg of it is left and the
    recording is `processing` (server_shutdown: with Redis the server is a node alone in its
    cluster, which shuts down as a single server does); start daphne again: it becomes `ready` and
    its file (probed with ffprobe) lasts about as long as the recording ran."""
    server, data = live
    bots = []
    for name in ("ada", "bob"):
        bot = CallClient(server.ws_url(data["meeting"], data["tokens"][name]), server.url, name)
        await bot.connect()
        await bot.join()
        await bot.publish()
        bots.append(bot)
    base = f"/api/meetings/{data['meeting']}/recordings/"
    status, body = await asyncio.to_thread(_api, server, data["tokens"]["ada"], "POST", base)
    assert status == 201, body
    rid = json.loads(body)["id"]
    started = time.monotonic()
    await eventually(lambda: len(ffmpeg_under(server.workdir)) >= 4, timeout=20, every=0.1,
                     what="four recording tools running")
    await asyncio.sleep(5.0)
    ran = time.monotonic() - started
    code = await asyncio.to_thread(LiveDaphne.stop, server)  # daphne only: keep its data
    for bot in bots:
        await bot.close()
    assert code is not None
    assert ffmpeg_under(server.workdir) == []
    row = server.shell(STATUS.format(rid=rid))
    assert row["status"] == "processing" and row["stop_reason"] == "server_shutdown", row

    await asyncio.to_thread(server.start, migrate=False)
    def composed() -> dict[str, Any] | None:
        row = server.shell(STATUS.format(rid=rid))
        return None if row["status"] == "processing" else row

    row = await eventually(composed, timeout=120, every=1.0, what="the recording composed")
    assert row["status"] == "ready", row
    assert abs(row["duration"] - ran) < 1.5, (row, ran)
    status, content = await asyncio.to_thread(_api, server, data["tokens"]["bob"], "GET",
                                              f"{base}{rid}/file/")
    assert status == 200 and len(content) > 10_000
    path = server.workdir / "downloaded.webm"
    path.write_bytes(content)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "json", str(path)], capture_output=True, text=True,
                           check=True)
    assert abs(float(json.loads(probe.stdout)["format"]["duration"]) - row["duration"]) < 0.5
