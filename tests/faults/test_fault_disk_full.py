"""The disk fills up while the server writes: its SQLite database and its log on a small tmpfs.

A tmpfs of 16 MiB is mounted for the test (root, as in CI) and filled with a file until
nothing is left. What it must do: the server keeps serving what needs no writing (a call's
signaling); what must write (admitting a socket, creating a meeting) fails cleanly
(``unavailable``: close 4502, HTTP 503) instead of crashing or hanging; nothing is corrupted
(SQLite's integrity check passes); when space returns, the same requests work again without a
restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediasoup_ctl import worker_bin_path

from bots.live_daphne import LiveDaphne
from bots.signaling import Refused, SignalingClient
from tests.faults.conftest import PASSWORD, SEED

pytestmark = [pytest.mark.timeout(240)]


def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Token {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _fill(directory: Path) -> Path:
    """Write a file in ``directory`` until the file system is full; the file."""
    filler = directory / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 16 MiB tmpfs mounted on a temporary directory (unmounted afterwards)."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (CI runs as root)")
    mount = Path(tempfile.mkdtemp(prefix="conference-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


async def test_disk_full_fails_writes_cleanly_corrupts_nothing_and_recovers(
    small_disk: Path,
) -> None:
    """With the disk full, Ada's call goes on (rtc:createTransport, rtc:getStats), Bob's new
    socket is refused with 4502 ``unavailable``, a new meeting gets 503 ``unavailable``, and
    the server survives its log writes failing. Space back: Bob connects, the meeting is
    created, and the database passes SQLite's integrity check."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    database = small_disk / "db.sqlite3"
    server = LiveDaphne(env={"DATABASE_URL": f"sqlite:///{database}"}, log_level="INFO",
                        prefix="conference-disk-")
    server.log_path = small_disk / "daphne.log"
    api = f"{server.http_url}/api/meetings/"
    try:
        await asyncio.to_thread(server.start)
        data = await asyncio.to_thread(server.shell, SEED.format(password=PASSWORD))
        ada = SignalingClient(server.ws_url(data["meeting"], data["tokens"]["ada"]),
                              origin=server.origin, name="ada")
        await ada.connect()
        await ada.request("rtc:join", {"displayName": "Ada"})

        filler = await asyncio.to_thread(_fill, small_disk)
        transport = await ada.request("rtc:createTransport", {"direction": "recv"})
        stats = await ada.request("rtc:getStats", {"transportId": transport["id"]})
        assert stats["stats"]
        bob = SignalingClient(server.ws_url(data["meeting"], data["tokens"]["bob"]),
                              origin=server.origin, name="bob")
        with pytest.raises(Refused) as refused:
            await bob.connect()
        assert (refused.value.close_code, refused.value.code) == (4502, "unavailable")
        status, body = await asyncio.to_thread(_post, api, data["tokens"]["ada"],
                                               {"title": "full disk"})
        assert (status, body.get("code")) == (503, "unavailable"), body
        assert server.process is not None and server.process.poll() is None

        filler.unlink()
        bob = SignalingClient(server.ws_url(data["meeting"], data["tokens"]["bob"]),
                              origin=server.origin, name="bob")
        state = await bob.connect()
        assert state["type"] == "meeting.state"
        status, body = await asyncio.to_thread(_post, api, data["tokens"]["ada"],
                                               {"title": "space again"})
        assert status == 201, body
        await ada.request("rtc:leave", {})
        await ada.close()
        await bob.close()
        with sqlite3.connect(database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert server.process.poll() is None
    finally:
        await asyncio.to_thread(server.cleanup)
