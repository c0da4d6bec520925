"""PostgreSQL unreachable for ten seconds under a live call (a proxy the test cuts).

What it must do: the call's media and its database-free signaling go on; every request that
needs the database fails cleanly with code ``unavailable`` (socket replies, a socket that
cannot be admitted: an ``error`` event then close 4502; the API and pages: 503 with
``Retry-After``), never ``internal`` and never a hang; the same requests work again once the
database is back, without a restart; a leave that happened during the outage is written late,
with the time it happened, not lost.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from bots.peer import Bot
from bots.signaling import Refused, SignalingError
from tests.faults.conftest import ProxiedServer
from tests.support.waiting import eventually

pytestmark = [pytest.mark.timeout(240)]

OUTAGE_SECONDS = 10.0


def _get(url: str, token: str) -> tuple[int, dict[str, Any], str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read()), ""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), error.headers.get("Retry-After", "")


async def _bot(site: ProxiedServer, name: str) -> Bot:
    bot = Bot(site.ws_url(name), site.server.origin, name=name)
    await bot.connect()
    return bot


async def _join_when_back(bot: Bot, within: float = 5.0) -> None:
    """rtc:join as a client does after ``unavailable``: again shortly; any other error, or
    none working within ``within`` seconds, fails the test."""
    async def joined() -> bool:
        try:
            await bot.join()
        except SignalingError as error:
            assert error.code == "unavailable", error
            return False
        return True

    await eventually(joined, timeout=within, every=0.5,
                     what="the database is back, rtc:join still fails")


async def test_database_outage_keeps_the_call_fails_cleanly_and_writes_attendance_late(
    proxied_server: ProxiedServer,
) -> None:
    """Ada and Bob are in a call when PostgreSQL becomes unreachable for 10 s: Bob still
    decodes Ada's media and pauses/resumes his own track, then leaves; Cy's rtc:join, Dee's
    new socket and the API answer ``unavailable`` within the pool's wait. When
    the database is back, Cy joins, Dee connects, the API answers, and Bob's leave is in the
    attendance table with the time he left."""
    site = proxied_server
    api = f"{site.server.http_url}/api/meetings/"
    tokens = site.data["tokens"]
    bots = [await _bot(site, name) for name in ("ada", "bob", "cy")]
    ada, bob, cy = bots
    try:
        await ada.join()
        await bob.join()
        await ada.publish()
        await bob.publish()
        await bob.wait_frames(ada.peer_id)

        site.proxy.cut()
        cut_at = time.monotonic()
        # Media and signaling that need no database go on.
        await bob.wait_frames(ada.peer_id, timeout=10)
        producer = bob.producer_ids["audio"]
        await bob.request("rtc:pauseProducer", {"producerId": producer})
        await bob.request("rtc:resumeProducer", {"producerId": producer})
        # Bob leaves while the database is away: his leave must be written later.
        await bob.leave()
        await bob.close()
        left_at = time.time()
        # rtc:join of a socket that joined the meeting uses the access it read then: no
        # database needed, the call goes on.
        await cy.join()
        assert cy.peer_id
        # What needs the database fails cleanly, within the pool's wait.
        started = time.monotonic()
        dee = Bot(site.ws_url("dee"), site.server.origin, name="dee")
        bots.append(dee)
        with pytest.raises(Refused) as refused_socket:
            await dee.connect()
        assert (refused_socket.value.close_code, refused_socket.value.code) == (
            4502, "unavailable"), vars(refused_socket.value)
        assert time.monotonic() - started < 8
        status, body, retry_after = await asyncio.to_thread(_get, api, tokens["ada"])
        assert (status, body.get("code"), retry_after) == (503, "unavailable", "5"), body
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))

        site.proxy.restore()
        async def connected() -> dict[str, Any] | None:
            dee = Bot(site.ws_url("dee"), site.server.origin, name="dee")
            bots.append(dee)
            try:
                return await dee.connect()
            except Refused as refused:
                assert refused.close_code == 4502, vars(refused)
                return None

        # A client retries shortly after "unavailable".
        state = await eventually(connected, timeout=5, every=0.5,
                                 what="the database is back, sockets still refused")
        assert state["type"] == "meeting.state"
        status, body, _ = await asyncio.to_thread(_get, api, tokens["ada"])
        assert status == 200, body
        await cy.wait_frames(ada.peer_id)

        async def bob_left() -> dict[str, Any] | None:
            rows = await asyncio.to_thread(site.attendance)
            return rows if rows["bob"][1] is not None else None

        rows = await eventually(bob_left, timeout=20, every=0.5, what="Bob's leave written")
        joined, left = rows["bob"]
        assert left is not None, rows
        assert abs(left - left_at) < 2.0, (left, left_at)  # when he left, not when written
        assert rows["ada"][1] is None and rows["cy"][1] is None  # still there
        log = site.server.log_path.read_text(errors="replace")
        assert "leave written late" in log, [
            line for line in log.splitlines() if "left" in line or "leave" in line]
        assert "Internal error" not in log and "handler for" not in log
    finally:
        for bot in bots:
            await bot.close()


def _spooled(site: ProxiedServer) -> list[str]:
    """The lines of the server's late-leave files."""
    directory = site.server.workdir / "late-leaves"
    return [line for path in sorted(directory.glob("*.jsonl"))
            for line in path.read_text().splitlines()] if directory.is_dir() else []


async def test_leaves_pending_when_the_server_stops_are_written_by_the_next_start(
    proxied_server: ProxiedServer,
) -> None:
    """Ada, Bob and Cy are connected when PostgreSQL becomes unreachable. Bob and Cy close
    their sockets: their leaves are kept, at once also in the server's late-leave file. The
    server is stopped (SIGTERM) before the database is back: its shutdown closes Ada's socket
    (a third leave), tries the three once more and logs that 3 are kept in the file. The
    database comes back and the server starts again: it adopts the file and writes the three
    leaves with the times they happened (not the restart's), and removes the file."""
    site = proxied_server
    ada, bob, cy = [await _bot(site, name) for name in ("ada", "bob", "cy")]
    try:
        joined = await asyncio.to_thread(site.attendance)
        assert all(joined[name][0] and joined[name][1] is None for name in ("ada", "bob", "cy"))
        site.proxy.cut()
        left_at = {}
        for bot in (bob, cy):
            await bot.close()
            left_at[bot.name] = time.time()
        await eventually(lambda: len(_spooled(site)) >= 2, timeout=10, every=0.2,
                         what="two late leaves spooled")

        stopping = time.time()
        await asyncio.to_thread(site.server.stop)
        stopped = time.time()
        log = site.server.log_path.read_text(errors="replace")
        assert "late leaves: 3 still pending (database unavailable), kept in" in log, [
            line for line in log.splitlines() if "late leaves" in line or "leave" in line]
        assert len(_spooled(site)) == 3

        site.proxy.restore()
        await asyncio.to_thread(site.server.start, migrate=False)
        async def all_left() -> dict[str, Any] | None:
            rows = await asyncio.to_thread(site.attendance)
            return rows if all(rows[name][1] for name in ("ada", "bob", "cy")) else None

        rows = await eventually(all_left, timeout=20, every=0.5, what="every leave written")
        for name in ("bob", "cy"):
            assert abs(rows[name][1] - left_at[name]) < 2.0, (name, rows, left_at)
        assert stopping - 1 <= rows["ada"][1] <= stopped + 1, (rows, stopping, stopped)
        assert rows["dee"] == [None, None]  # invited, never came
        log = site.server.log_path.read_text(errors="replace")
        assert "late leaves: 3 adopted from a stopped process" in log
        assert log.count("leave written late") == 3
        assert _spooled(site) == []
    finally:
        await ada.close()
