"""Fixtures for the integrations tests: integrations with keys, owned meetings, join tokens, a
real local webhook receiver, and the rtc fixtures (real worker pool, real sockets).

`webhook_receiver` is an HTTP server on 127.0.0.1 in a thread that checks every request's
signature with `integrations.signing.verify_webhook` and answers from a script of statuses
(e.g. 500, 500, then 200), so delivery, retries and signatures are exercised for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from integrations import services
from integrations.dispatcher import dispatcher
from integrations.models import Integration
from integrations.signing import WebhookVerificationError, verify_webhook
from integrations.tokens import mint_join_token
from meetings.models import Meeting
from rtc.policy.grants import grant_store
from tests.rtc.conftest import RtcClient, rtc_client, rtc_service, rtc_settings  # noqa: F401

ORIGIN = "http://localhost"
WS_TIMEOUT = 5

# --- settings and global state -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def integrations_settings(settings: Any) -> Any:
    """Loopback http receivers allowed, fast retries, and a clean dispatcher and grant store."""
    settings.INTEGRATIONS = {
        **getattr(settings, "INTEGRATIONS", {}),
        "WEBHOOK_ALLOW_HTTP_LOOPBACK": True,
        "WEBHOOK_BACKOFF_BASE": 0.2,
        "WEBHOOK_BACKOFF_MAX": 1.0,
        "WEBHOOK_TIMEOUT": 2,
        "WEBHOOK_POLL_SECONDS": 0.5,
    }
    yield settings
    dispatcher.stop()
    grant_store._entries.clear()


# --- integrations, meetings, tokens --------------------------------------------------------------


@dataclass
class Keyed:
    """An integration with its plain secret (as its backend would keep it)."""

    integration: Integration
    secret: str

    @property
    def api_key(self) -> str:
        """The integration's public key id."""
        return self.integration.api_key

    @property
    def bearer(self) -> str:
        """The Authorization header value of its backend."""
        return f"Bearer {self.integration.api_key}:{self.secret}"

    def token(self, meeting: Any, identity: str = "guest-1", **claims: Any) -> str:
        """A join token of this integration for `meeting`."""
        return mint_join_token(api_key=self.api_key, secret=self.secret, meeting_id=meeting.id,
                               identity=identity, **claims)


@pytest.fixture
def make_integration(make_user: Callable[..., Any]) -> Callable[..., Keyed]:
    """Factory: `make_integration("Acme", webhook_url=...)` with a fresh owner user."""
    counter = iter(range(1, 1000))

    def make(name: str = "Acme", *, webhook_url: str = "", owner: Any = None) -> Keyed:
        owner = owner or make_user(f"owner{next(counter)}")
        integration, secret = services.integration_create(name=name, owner=owner,
                                                          webhook_url=webhook_url)
        return Keyed(integration, secret)

    return make


@pytest.fixture
def acme(make_integration: Callable[..., Keyed]) -> Keyed:
    """Integration A."""
    return make_integration("Acme")


@pytest.fixture
def globex(make_integration: Callable[..., Keyed]) -> Keyed:
    """Integration B."""
    return make_integration("Globex")


@pytest.fixture
def acme_meeting(acme: Keyed) -> Meeting:
    """A meeting owned by integration A."""
    return services.meeting_create_for_integration(integration=acme.integration,
                                                   title="Acme standup")


@pytest.fixture
def globex_meeting(globex: Keyed) -> Meeting:
    """A meeting owned by integration B."""
    return services.meeting_create_for_integration(integration=globex.integration,
                                                   title="Globex review")


# --- sockets -----------------------------------------------------------------------------------


@pytest.fixture
async def token_socket() -> Any:
    """Factory: `await token_socket(meeting_id, token, param="access_token")`, not connected."""
    from conference.asgi import application

    made: list[WebsocketCommunicator] = []

    async def make(meeting_id: Any, token: str, *, param: str = "access_token"
                   ) -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(
            application, f"/ws/meetings/{meeting_id}/?{param}={token}",
            headers=[(b"host", b"localhost"), (b"origin", ORIGIN.encode())])
        made.append(communicator)
        return communicator

    yield make
    for communicator in made:
        try:
            # A loaded machine (2 cores, several suites) may need more than the default 1 s
            # for the consumer's leave (group discard, peer removal, attendance).
            await communicator.disconnect(timeout=5)
        except Exception:  # closed by the test
            pass


@pytest.fixture
def token_client(rtc_service: Any, token_socket: Any) -> Callable[..., Any]:  # noqa: F811
    """Factory: `await token_client(meeting, token)` is a connected RtcClient (meeting.state
    consumed). Depends on `rtc_service` so sockets close before the service is checked."""

    async def make(meeting: Any, token: str) -> RtcClient:
        communicator = await token_socket(meeting.id, token)
        connected, _ = await communicator.connect(timeout=WS_TIMEOUT)
        assert connected
        first = await communicator.receive_json_from(timeout=WS_TIMEOUT)
        assert first["type"] == "meeting.state", first
        return RtcClient(communicator, None)

    return make


# --- the webhook receiver ------------------------------------------------------------------------


@dataclass
class Received:
    """One request the receiver got."""

    body: bytes
    headers: dict[str, str]
    event: dict[str, Any] | None
    """The verified event, None when verification failed."""
    error: str
    """Why verification failed ("" when it passed)."""
    answered: int
    at: float


@dataclass
class Receiver:
    """A local webhook endpoint; set `secret` and `script` before events are sent."""

    url: str = ""
    secret: str = ""
    script: list[int] = field(default_factory=list)
    """Statuses to answer, in order; 200 once it is empty."""
    hold_first: bool = False
    """Answer the first request only once `release` is set (a hanging receiver: the sender's
    timeout, signaling that must not wait for it)."""
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)
    arrived: int = 0
    lock: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `count` requests arrived (or fail)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} of {count} webhooks arrived")
                self.lock.wait(left)
            return list(self.requests)

    def events(self) -> list[dict[str, Any]]:
        """The verified events, in arrival order, first copy of each id only."""
        seen, result = set(), []
        for item in self.requests:
            if item.event is not None and item.event["id"] not in seen:
                seen.add(item.event["id"])
                result.append(item.event)
        return result


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on 127.0.0.1 (random port), checking every signature."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = dict(self.headers.items())
            with receiver.lock:
                receiver.arrived += 1
                first = receiver.arrived == 1
                status = receiver.script.pop(0) if receiver.script else 200
            if first and receiver.hold_first:
                receiver.release.wait(60)
            try:
                event, error = verify_webhook(body, headers, receiver.secret), ""
            except WebhookVerificationError as exc:
                event, error = None, str(exc)
            with receiver.lock:
                receiver.requests.append(Received(body, headers, event, error, status,
                                                  time.monotonic()))
                receiver.lock.notify_all()
            payload = json.dumps({"ok": status < 300}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the sender timed out and went away
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def hooked(make_integration: Callable[..., Keyed], webhook_receiver: Receiver) -> Keyed:
    """An integration whose webhooks go to `webhook_receiver` (which knows its secret)."""
    keyed = make_integration("Hooked", webhook_url=webhook_receiver.url)
    webhook_receiver.secret = keyed.secret
    return keyed


@pytest.fixture
def hooked_meeting(hooked: Keyed) -> Meeting:
    """A meeting of the `hooked` integration."""
    return services.meeting_create_for_integration(integration=hooked.integration,
                                                   title="Hooked call")


async_db = database_sync_to_async
