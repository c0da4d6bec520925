"""Fixtures of the fault tests: the parts around the server fail while a call goes on.

The machine's PostgreSQL and Redis are shared and never stopped here. A database outage is a
:class:`bots.fault_proxy.FaultProxy` between a live daphne and a database of its own on the
shared PostgreSQL, which the test cuts (connections refused, open ones reset) and restores.
A Redis outage is a redis-server of the test's own on a private port, stopped and started
again (its data, the channel layer's groups, is lost as in a real restart).

These tests need PostgreSQL (``DATABASE_URL`` when it is PostgreSQL, else the CI's
``postgres://postgres@127.0.0.1:5432``), a redis-server binary and the mediasoup worker, on
both passes of ``.ci/run``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest

from bots.fault_proxy import FaultProxy
from bots.live_daphne import LiveDaphne
from rtc.mediasoup import worker_bin_path
from tests.rtc.conftest import rtc_service, rtc_settings  # noqa: F401

PASSWORD = "fault-test-password-8c1e"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


def postgres_url() -> str:
    """The PostgreSQL server to make databases on: the suite's own, else the CI's."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_POSTGRES


def _with(url: str, *, netloc: str | None = None, database: str | None = None) -> str:
    parsed = urlparse(url)
    if netloc is not None:
        parsed = parsed._replace(netloc=netloc)
    if database is not None:
        parsed = parsed._replace(path=f"/{database}")
    return urlunparse(parsed)


def _execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(_with(url, database="postgres"), autocommit=True) as conn:
        conn.execute(sql)


SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
User = get_user_model()
def user(name):
    found = User.objects.filter(username=name).first()
    u = found or User.objects.create_user(name, password={password!r})
    return Token.objects.get_or_create(user=u)[0].key
tokens = {{name: user(name) for name in ("ada", "bob", "cy", "dee")}}
meeting = services.meeting_create(host=User.objects.get(username="ada"), title="Faults")
for name in ("bob", "cy", "dee"):
    services.participant_invite(meeting=meeting, actor=meeting.host, username=name)
print(json.dumps({{"meeting": str(meeting.id), "tokens": tokens}}))
"""

ATTENDANCE = """
import json
from meetings.models import Participant
rows = Participant.objects.filter(meeting_id={meeting!r}).select_related("user")
print(json.dumps({{p.user.username: [p.joined_at and p.joined_at.timestamp(),
                                   p.left_at and p.left_at.timestamp()] for p in rows}}))
"""


class ProxiedServer:
    """A live daphne whose PostgreSQL database is reached through a proxy the test cuts."""

    def __init__(self, server: LiveDaphne, proxy: FaultProxy, data: dict[str, Any]) -> None:
        self.server = server
        self.proxy = proxy
        self.data = data

    def ws_url(self, name: str) -> str:
        """The meeting socket of ``name`` (ada, bob, cy, dee)."""
        return self.server.ws_url(self.data["meeting"], self.data["tokens"][name])

    def attendance(self) -> dict[str, list[float | None]]:
        """username → [joined_at, left_at] (Unix seconds) of the meeting's participants."""
        return self.server.shell(ATTENDANCE.format(meeting=self.data["meeting"]))


@pytest.fixture
def proxied_server() -> Iterator[ProxiedServer]:
    """daphne (one worker, in-memory layer) on a fresh PostgreSQL database behind a proxy;
    the pool waits at most 3 s for a connection (``DB_POOL_TIMEOUT``)."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (scripts/build-worker.sh)")
    admin = postgres_url()
    name = f"fault_{uuid.uuid4().hex[:12]}"
    _execute(admin, f'CREATE DATABASE "{name}"')
    target = urlparse(admin)
    proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    user = target.username or "postgres"
    through = _with(admin, netloc=f"{user}@{proxy.address}", database=name)
    server = LiveDaphne(env={"DATABASE_URL": through, "DB_POOL_TIMEOUT": "3"},
                        log_level="INFO", prefix="conference-fault-")
    try:
        server.start()
        data = server.shell(SEED.format(password=PASSWORD))
        yield ProxiedServer(server, proxy, data)
    finally:
        if proxy.is_cut:
            proxy.restore()
        server.cleanup()
        proxy.close()
        _execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
