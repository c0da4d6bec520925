"""Fixtures of the fault tests: the parts around the server fail while a call goes on.

The machine's PostgreSQL and Redis are shared and never stopped here. A database outage is a
:class:`bots.fault_proxy.FaultProxy` between a live daphne and a database of its own on the
shared PostgreSQL, which the test cuts (connections refused, open ones reset) and restores.
A Redis outage is a redis-server of the test's own on a private port, stopped and started
again (its data, the channel layer's groups, is lost as in a real restart).

A client's link that dies is a :class:`bots.shaped_link.ShapedLink` between two network
namespaces of the test's own (root, as in CI), told to lose every packet both ways.

These tests need PostgreSQL (``DATABASE_URL`` when it is PostgreSQL, else the CI's
``postgres://postgres@127.0.0.1:5432``), a redis-server binary and the mediasoup worker, on
both passes of ``.ci/run``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
from mediasoup_ctl import worker_bin_path

from bots.fault_proxy import FaultProxy
from bots.live_daphne import LiveDaphne
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
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
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


# -- a client's link ----------------------------------------------------------------------------

LINK_SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
User = get_user_model()
def user(name, staff=False):
    found = User.objects.filter(username=name).first()
    u = found or User.objects.create_user(name, password={password!r}, is_staff=staff)
    return {{"id": u.pk, "token": Token.objects.get_or_create(user=u)[0].key}}
print(json.dumps({{name: user(name, name == "ops") for name in ("ada", "bob", "ops")}}))
"""

LINK_MEETING = """
import json
from django.contrib.auth import get_user_model
from meetings import services
User = get_user_model()
meeting = services.meeting_create(host=User.objects.get(username="ada"), title="Link")
services.participant_invite(meeting=meeting, actor=meeting.host, username="bob")
ops = services.meeting_create(host=User.objects.get(username="ops"), title="ops")
print(json.dumps({"meeting": str(meeting.id), "ops": str(ops.id)}))
"""

LINK_GRACE_SECONDS = 12.0
"""The server's reconnect grace in the link tests."""
LINK_KEEPALIVE = (1.0, 2.0)
"""daphne's ping interval and pong timeout in the link tests (production: 10 and 10)."""


def _probe_in(namespace: str) -> Any:
    """``answers_http``, asked from inside ``namespace`` (a thread that enters it)."""
    import threading

    from bots.live_daphne import answers_http
    from bots.netns import enter_netns

    def probe(url: str) -> bool:
        answer: list[bool] = []

        def work() -> None:
            enter_netns(namespace)
            answer.append(answers_http(url))

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        return bool(answer and answer[0])

    return probe


class LinkedSite:
    """A live daphne in a network namespace of its own, reached by the "near" clients over its
    loopback and by the "far" ones, in a second namespace, only over a link the test kills
    (:class:`bots.shaped_link.ShapedLink`: every packet both ways lost, nothing closed)."""

    def __init__(self, server: LiveDaphne, link: Any, near: Any, far: Any,
                 users: dict[str, Any]) -> None:
        self.server = server
        self.link = link
        self.near = near
        """:class:`bots.netns.NamespaceLoop` in the server's namespace."""
        self.far = far
        """:class:`bots.netns.NamespaceLoop` behind the link."""
        self.users = users

    def meeting(self) -> dict[str, str]:
        """A new meeting of Ada's with Bob invited, and a meeting for the staff socket."""
        return self.server.shell(LINK_MEETING)

    def ws_url(self, meeting: str, name: str, *, far: bool = False) -> tuple[str, str]:
        """The socket URL and the Origin of ``name``, from near or from far."""
        host = self.link.server_ip if far else "127.0.0.1"
        base = f"{host}:{self.server.port}"
        token = self.users[name]["token"]
        return f"ws://{base}/ws/meetings/{meeting}/?token={token}", f"http://{base}"

    def cut(self) -> None:
        """The far side's link goes dead: every packet both ways is lost."""
        from bots.shaped_link import LinkProfile

        dead = LinkProfile(loss=1.0)
        self.link.shape(down=dead, up=dead)

    def restore(self) -> None:
        """The link carries packets again."""
        from bots.shaped_link import CLEAN

        self.link.shape(down=CLEAN, up=CLEAN)

    def attendance(self, meeting: str) -> dict[str, list[float | None]]:
        """username → [joined_at, left_at] (Unix seconds)."""
        return self.server.shell(ATTENDANCE.format(meeting=meeting))


@pytest.fixture(scope="module")
def linked_site() -> Iterator[LinkedSite]:
    """daphne (one worker, SQLite, in-memory layer, keepalive 1 s / 2 s, grace 12 s) in the
    namespace ``<LIVE_SITE_NETNS>-ls``, and a link to ``<LIVE_SITE_NETNS>-lc``. Needs root."""
    import shutil

    from bots import loopback
    from bots.netns import NamespaceLoop
    from bots.shaped_link import ShapedLink

    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("the link tests need root and iproute2 (network namespaces, TUN)")
    base = os.environ.get("LIVE_SITE_NETNS", "conference-web")
    server_ns, client_ns = f"{base}-ls", f"{base}-lc"
    link = ShapedLink(server_ns=server_ns, client_ns=client_ns, subnet="10.213.15").start()
    server = LiveDaphne(
        env={"RTC_RECONNECT_GRACE_SECONDS": f"{LINK_GRACE_SECONDS:g}",
             "ALLOWED_HOSTS": f"127.0.0.1,localhost,{link.server_ip}",
             "MEDIASOUP_LISTEN_IP": link.server_ip},
        wrap=lambda command: ["ip", "netns", "exec", server_ns, *command],
        probe=_probe_in(server_ns), log_level="INFO", prefix="conference-link-",
        keepalive=LINK_KEEPALIVE)
    server.bind = "0.0.0.0"  # noqa: S104 (inside the test's own namespace)
    near, far = NamespaceLoop(server_ns), NamespaceLoop(client_ns)
    patch = pytest.MonkeyPatch()
    # The far bots' ICE candidates are on the link's address (bind fails near, and is skipped).
    patch.setattr(loopback, "LOOPBACK_ADDRESSES", ["127.0.0.1", link.client_ip])
    try:
        server.start()
        users = server.shell(LINK_SEED.format(password=PASSWORD))
        near.start()
        far.start()
        yield LinkedSite(server, link, near, far, users)
    finally:
        patch.undo()
        near.close()
        far.close()
        server.cleanup()
        link.close()
        for namespace in (server_ns, client_ns):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
