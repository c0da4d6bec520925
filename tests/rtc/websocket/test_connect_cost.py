"""What a socket's set-up costs the database: no session lookup without a session cookie, and
SQLite's write-ahead log (commits that do not wait for the disk)."""

from __future__ import annotations

import os
import subprocess
import sys

import channels.auth
import pytest

from bots.live_daphne import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


async def _reply(ws, request_id: str) -> dict:
    """The reply to ``request_id``, skipping the events pushed meanwhile."""
    while True:
        message = await ws.receive_json_from(timeout=5)
        if message.get("requestId") == request_id:
            return message


@pytest.fixture
def session_lookups(monkeypatch) -> list[object]:
    """Every call of Channels' session user lookup, counted (and still made)."""
    calls: list[object] = []
    real = channels.auth.get_user

    async def counting(scope):
        calls.append(scope)
        return await real(scope)

    monkeypatch.setattr(channels.auth, "get_user", counting)
    return calls


async def test_a_token_socket_without_a_session_cookie_makes_no_session_lookup(
        ws_join, meeting, member_user, session_lookups):
    """A socket authenticated by ``?token=`` (no cookie) joins as its user without a trip to
    the database thread for the session's user."""
    ws = await ws_join(meeting.id, member_user, auth="token")
    assert session_lookups == []
    await ws.send_json_to({"type": "meeting:state", "requestId": "p1"})
    reply = await _reply(ws, "p1")
    assert member_user.pk in [p["userId"] for p in reply["data"]["participants"]]


async def test_a_session_cookie_still_authenticates_the_socket(ws_join, meeting, member_user,
                                                               session_lookups):
    """A browser's socket (session cookie) is looked up and joins as the session's user."""
    ws = await ws_join(meeting.id, member_user, auth="session")
    assert len(session_lookups) == 1
    await ws.send_json_to({"type": "meeting:state", "requestId": "s1"})
    reply = await _reply(ws, "s1")
    present = [p["userId"] for p in reply["data"]["participants"]]
    assert member_user.pk in present


async def test_an_anonymous_socket_is_still_refused(ws_communicator, meeting, session_lookups):
    """No cookie and no token: anonymous without a lookup, refused with 4401."""
    ws = await ws_communicator(meeting.id, auth=None)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    closed = await ws.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)
    assert session_lookups == []


def test_sqlite_connections_use_the_write_ahead_log(tmp_path):
    """Every SQLite connection is in WAL mode with synchronous=NORMAL (no fsync per commit;
    a commit survives the process dying), as settings' init_command sets it. Checked in a
    ``manage.py shell`` of its own on a SQLite file, whatever database this run uses."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'wal.sqlite3'}"
    code = ("from django.db import connection\n"
            "cursor = connection.cursor()\n"
            "print(cursor.execute('PRAGMA journal_mode').fetchone()[0],"
            " cursor.execute('PRAGMA synchronous').fetchone()[0])")
    result = subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["wal", "1"]  # 1: NORMAL
