"""Shared fixtures: users, meetings, API clients, WebSocket communicators, the channel layer.

Everything runs on the configured database and channel layer: SQLite and the in-memory layer
by default, PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set. Under Redis each run
uses its own key prefix and deletes its keys at the end, so runs never see each other's groups.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bots.loopback import restrict_aiortc_to_loopback
from meetings import services
from meetings.models import Meeting

# Shared test support: the manual clock fixture, the tier markers and the fast tier's guard.
pytest_plugins = ["tests.support.clock", "tests.support.tiers"]

PASSWORD = "correct-horse-battery-staple"
ORIGIN = "http://localhost"
WS_TIMEOUT = 5

User = get_user_model()


# --- database ---


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """On SQLite, transactions take the write lock when they begin: the tests run the webhook
    dispatcher's thread beside the test's own, and a transaction that upgrades from reading to
    writing while the other thread writes gets "database is locked" at once (no busy wait)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"


# --- network --------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _aiortc_on_loopback() -> None:
    """Python peers (pymediasoup/aiortc) gather candidates on 127.0.0.1 only and never contact
    a public STUN server: tests send traffic to loopback addresses only."""
    restrict_aiortc_to_loopback()


# --- outgoing check ------------------------------------------------------------------------------

# Every reply and event a meeting socket sends is checked against its declared model
# (rtc/signaling/outgoing.py); servers started by the tests (LiveDaphne) inherit the switch.
os.environ["SIGNALING_CHECK_OUTGOING"] = "1"


@pytest.fixture(autouse=True)
def _outgoing_checked() -> Iterator[None]:
    """Turn the outgoing check on, and fail a test during which a socket of this process
    tried to send a frame its declaration does not allow (even one a handler swallowed)."""
    from rtc.signaling import outgoing

    settings.SIGNALING_CHECK_OUTGOING = True
    outgoing.violations.clear()
    yield
    refused, outgoing.violations[:] = list(outgoing.violations), []
    assert not refused, f"undeclared outgoing frames: {refused}"


# --- channel layer ------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _isolated_channel_layer() -> Iterator[None]:
    """Give this run its own Redis key prefix (no-op for the in-memory layer); flush at the end."""
    config = settings.CHANNEL_LAYERS["default"]
    redis = "redis" in config["BACKEND"].lower()
    if redis:
        config.setdefault("CONFIG", {})["prefix"] = f"conference-test-{uuid.uuid4().hex[:12]}"
    channel_layers.backends.clear()
    yield
    if redis:
        async_to_sync(get_channel_layer().flush)()
    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def _recordings_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Recording files of every test go to a temporary directory, never into the repository
    (tests that look at them set their own directories on top)."""
    from django.test.utils import override_settings

    base = tmp_path_factory.mktemp("recordings")
    override = override_settings(
        RECORDING={**settings.RECORDING, "WORK_DIR": base / "work"},
        STORAGES={**settings.STORAGES, "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(base / "stored")}}})
    override.enable()
    yield
    override.disable()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database; before it is dropped, every connection to it that this
    process still holds is given up. PostgreSQL refuses to drop a database others are
    connected to (CI's PostgreSQL pass warned "database "test_test" is being accessed by other
    users" now and then): the webhook dispatcher's and the socket database threads stop, and
    the connections of threads that ended without closing theirs (a Django connection is
    reference cycles: it closes when the collector runs, not when its thread ends) are
    collected now, not whenever the collector would have run; any session still connected
    after that is named and ended (:func:`_end_other_sessions`)."""
    yield
    import gc

    from conference import db_threads
    from integrations.dispatcher import dispatcher

    with django_db_blocker.unblock():
        dispatcher.stop()
        db_threads.shutdown()
        gc.collect()
        _end_other_sessions()


def _end_other_sessions() -> None:
    """On PostgreSQL, end the sessions still connected to the test database besides this
    one, each named on stderr (what it last ran, since when) so that whoever left it can be
    found: the collector did not close them all (CI's PostgreSQL pass still warned once in
    two runs with the threads stopped), and a database that cannot be dropped is left behind."""
    import sys

    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, state, state_change, left(query, 160), "
            "pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        for row in cursor.fetchall():
            print(f"\ntest database: a session was still connected at teardown: {row[:5]}",
                  file=sys.stderr)
    connection.close()


@pytest.fixture(autouse=True)
def _close_executor_connections() -> Iterator[None]:
    """Close the database connection of asgiref's shared sync thread after each test.

    Channels' test communicators patch `close_old_connections` to a no-op while a test awaits
    them, so an ORM call a consumer makes meanwhile (through `database_sync_to_async`, in that
    one thread) leaves its connection open; PostgreSQL then refuses to drop the test database
    ("being accessed by other users"). Under daphne nothing patches it: each call closes its
    connection (CONN_MAX_AGE 0).
    """
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """A new layer instance per test: channels-redis binds its receive state to the event loop
    that first used it, and every async test runs in its own loop."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _no_cluster_node_left() -> Iterator[None]:
    """No test leaves this process a cluster node: ``rtc.lifecycle.startup.start_pool`` joins the
    cluster whenever Redis is configured (the PostgreSQL + Redis pass), and a node left behind
    would route every later test's calls through a Redis store whose event loop is gone."""
    from rtc import cluster

    yield
    if cluster.local_node() is not None:
        cluster.set_local_node(None)


@pytest.fixture
def channel_layer() -> Any:
    """The project's default channel layer (in-memory or Redis, as configured)."""
    return get_channel_layer()


# --- users and meetings --------------------------------------------------------------------------


@pytest.fixture
def user_password() -> str:
    """The password of every user made by `make_user`."""
    return PASSWORD


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    """Factory: an active user with password PASSWORD."""

    def make(username: str, **extra: Any) -> Any:
        return User.objects.create_user(username=username, password=PASSWORD, **extra)

    return make


@pytest.fixture
def host_user(make_user: Callable[..., Any]) -> Any:
    """The host of `meeting` and `open_meeting`."""
    return make_user("hazel")


@pytest.fixture
def member_user(make_user: Callable[..., Any]) -> Any:
    """A user invited to `meeting`."""
    return make_user("milo")


@pytest.fixture
def outsider_user(make_user: Callable[..., Any]) -> Any:
    """A signed-in user invited to nothing."""
    return make_user("otto")


@pytest.fixture
def meeting(host_user: Any, member_user: Any) -> Meeting:
    """An invited-only meeting hosted by `host_user` with `member_user` invited."""
    created = services.meeting_create(host=host_user, title="Weekly sync")
    services.participant_invite(meeting=created, actor=host_user, username=member_user.username)
    return created


@pytest.fixture
def open_meeting(host_user: Any) -> Meeting:
    """A meeting any signed-in user may join, hosted by `host_user`."""
    return services.meeting_create(
        host=host_user, title="Open office hours", access=Meeting.Access.AUTHENTICATED
    )


# --- REST clients ---------------------------------------------------------------------------------


@pytest.fixture
def api_client() -> APIClient:
    """An unauthenticated DRF test client."""
    return APIClient()


@pytest.fixture
def client_for(db: None) -> Callable[[Any], APIClient]:
    """Factory: a DRF client authenticated as `user` with a real token header."""

    def make(user: Any) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def host_client(client_for: Callable[[Any], APIClient], host_user: Any) -> APIClient:
    """API client of the host."""
    return client_for(host_user)


@pytest.fixture
def member_client(client_for: Callable[[Any], APIClient], member_user: Any) -> APIClient:
    """API client of the invited member."""
    return client_for(member_user)


@pytest.fixture
def outsider_client(client_for: Callable[[Any], APIClient], outsider_user: Any) -> APIClient:
    """API client of a user who is not a participant."""
    return client_for(outsider_user)


# --- WebSockets -----------------------------------------------------------------------------------


def _token_key(user: Any) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def _session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


WsFactory = Callable[..., Awaitable[WebsocketCommunicator]]


@pytest.fixture
async def ws_communicator() -> AsyncIterator[WsFactory]:
    """Factory: a not yet connected WebsocketCommunicator on the real ASGI application.

    `await ws_communicator(meeting_id, user=None, auth="token"|"session"|None, origin=ORIGIN,
    token=None)`. Every communicator made is disconnected at teardown.
    """
    from conference.asgi import application

    made: list[WebsocketCommunicator] = []

    async def make(
        meeting_id: Any,
        *,
        user: Any = None,
        auth: str | None = "token",
        origin: str | None = ORIGIN,
        token: str | None = None,
    ) -> WebsocketCommunicator:
        path = f"/ws/meetings/{meeting_id}/"
        headers: list[tuple[bytes, bytes]] = [(b"host", b"localhost")]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if token is None and user is not None and auth == "token":
            token = await database_sync_to_async(_token_key)(user)
        if token is not None:
            path += f"?token={token}"
        if user is not None and auth == "session":
            cookie = await database_sync_to_async(_session_cookie)(user)
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        made.append(communicator)
        return communicator

    yield make
    for communicator in made:
        try:
            await communicator.disconnect()
        except Exception:  # already closed by the test
            pass


@pytest.fixture
def ws_join(ws_communicator: WsFactory) -> Callable[..., Awaitable[WebsocketCommunicator]]:
    """Factory: connect `user` to the meeting, check acceptance, consume the `meeting.state`.

    `await ws_join(meeting_id, user, auth="token")` returns the connected communicator.
    """

    async def join(meeting_id: Any, user: Any, *, auth: str = "token") -> WebsocketCommunicator:
        communicator = await ws_communicator(meeting_id, user=user, auth=auth)
        connected, _ = await communicator.connect(timeout=WS_TIMEOUT)
        assert connected
        first = await communicator.receive_json_from(timeout=WS_TIMEOUT)
        assert first["type"] == "meeting.state", first
        return communicator

    return join


async def _receive_until(
    communicator: WebsocketCommunicator, message_type: str, *, timeout: float = WS_TIMEOUT
) -> dict[str, Any]:
    """The next message of `message_type`, skipping other pushes (e.g. meeting.updated)."""
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message.get("type") == message_type:
            return message


async def _expect_close(communicator: WebsocketCommunicator, *, timeout: float = WS_TIMEOUT) -> int:
    """Read outputs until the server closes the socket; return the close code."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            code = output.get("code", 1000)
            # daphne (autobahn) only sends a close whose code is exactly an int.
            assert type(code) is int, f"close code {code!r} is not a plain int"
            return code


@pytest.fixture
def ws_receive_until() -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await ws_receive_until(communicator, "meeting.participantJoined")`: skip other pushes."""
    return _receive_until


@pytest.fixture
def ws_expect_close() -> Callable[..., Awaitable[int]]:
    """`await ws_expect_close(communicator)`: the code the server closed the socket with."""
    return _expect_close


async def _request(
    communicator: WebsocketCommunicator,
    message: dict[str, Any],
    *,
    timeout: float = WS_TIMEOUT,
) -> dict[str, Any]:
    """Send `message` and return the reply carrying its requestId, skipping pushes."""
    await communicator.send_json_to(message)
    while True:
        reply = await communicator.receive_json_from(timeout=timeout)
        if "type" not in reply and reply.get("requestId") == message.get("requestId"):
            return reply


@pytest.fixture
def ws_request() -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await ws_request(communicator, {"type": ..., "requestId": ..., "data": ...})`: the reply."""
    return _request
