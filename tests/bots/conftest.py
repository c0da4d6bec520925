"""Fixtures for the bots: a live daphne with a real worker, an integration, bot processes.

The server is :class:`bots.live_daphne.LiveDaphne` (its own SQLite file, one worker). Its
staff user ``owner`` owns an integration (API key and secret) whose meetings the bots enter
with join tokens minted here, and hosts an "ops" meeting whose socket asks ``rtc:serverStats``.
Bot command lines run as real subprocesses (:class:`BotProcess`); every one still running at
teardown is killed and reported as a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mediasoup_ctl import worker_bin_path

from bots.live_daphne import ROOT, LiveDaphne
from bots.peer import Bot
from integrations.tokens import mint_join_token

SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from integrations import services
from meetings import services as meetings
User = get_user_model()
owner = User.objects.create_user("owner", is_staff=True)
integration, secret = services.integration_create(name="Recorders", owner=owner)
ops = meetings.meeting_create(host=owner, title="Operations")
print(json.dumps({"api_key": integration.api_key, "secret": secret, "ops": str(ops.id),
                  "owner_token": Token.objects.create(user=owner).key}))
"""

MEETING = """
import json
from integrations import services
from integrations.models import Integration
integration = Integration.objects.get(api_key={api_key!r})
meeting = services.meeting_create_for_integration(integration=integration, title={title!r})
print(json.dumps(str(meeting.id)))
"""


@dataclass
class Site:
    """The running server and what was seeded in it."""

    server: LiveDaphne
    api_key: str
    secret: str
    ops_meeting: str
    owner_token: str

    def meeting(self, title: str) -> str:
        """A new meeting of the integration; its id."""
        return str(self.server.shell(MEETING.format(api_key=self.api_key, title=title)))

    def token(self, meeting: str, identity: str, **grants: Any) -> str:
        """A join token for ``identity`` in ``meeting`` (``hidden=True, publish=()``...)."""
        return mint_join_token(api_key=self.api_key, secret=self.secret, meeting_id=meeting,
                               identity=identity, name=grants.pop("name", identity), **grants)

    def end(self, meeting: str) -> dict[str, Any]:
        """End ``meeting`` through the integration API (everyone is told and closed)."""
        request = urllib.request.Request(
            f"{self.server.url}/api/integrations/live/{meeting}/end/", method="POST",
            headers={"Authorization": f"Bearer {self.api_key}:{self.secret}"})
        with urllib.request.urlopen(request, timeout=20) as response:
            return json.loads(response.read())

    async def stats(self) -> dict[str, Any]:
        """``rtc:serverStats`` through a staff socket on the ops meeting."""
        ops = Bot(self.server.ws_url(self.ops_meeting, self.owner_token), name="ops")
        await ops.connect()
        try:
            return await ops.request("rtc:serverStats", {})
        finally:
            await ops.close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """A live daphne with the integration seeded (module-wide: starting one takes seconds)."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    server = LiveDaphne(prefix="bots-test-").start()
    try:
        yield Site(server, **_renamed(server.shell(SEED)))
    finally:
        code = server.cleanup()
        assert code == 0, f"daphne exit code {code}"
        assert not server.workdir.exists()


def _renamed(seeded: dict[str, Any]) -> dict[str, Any]:
    return {"api_key": seeded["api_key"], "secret": seeded["secret"],
            "ops_meeting": seeded["ops"], "owner_token": seeded["owner_token"]}


class BotProcess:
    """``python -m <module> ...`` with its stdout lines and stderr collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._output = asyncio.Condition()
        """Notified at each stdout line and at its end."""
        self._stdout_ended = False
        self._readers = [asyncio.ensure_future(self._read(process.stdout, self.lines)),
                         asyncio.ensure_future(self._read(process.stderr, self.errors))]

    async def _read(self, stream: asyncio.StreamReader | None, into: list[str]) -> None:
        assert stream is not None
        try:
            async for raw in stream:
                into.append(raw.decode(errors="replace").rstrip("\n"))
                async with self._output:
                    self._output.notify_all()
        finally:
            if into is self.lines:
                self._stdout_ended = True
                async with self._output:
                    self._output.notify_all()

    @property
    def stderr(self) -> str:
        """What it wrote to stderr so far."""
        return "\n".join(self.errors)

    async def wait_lines(self, prefix: str, count: int = 1, timeout: float = 30) -> list[str]:
        """Until ``count`` stdout lines start with ``prefix``; those lines."""
        try:
            async with asyncio.timeout(timeout), self._output:
                while True:
                    found = [line for line in self.lines if line.startswith(prefix)]
                    if len(found) >= count:
                        return found
                    if self._stdout_ended:  # it exited (or closed its stdout): no more lines
                        break
                    await self._output.wait()
        except TimeoutError:
            pass
        raise AssertionError(f"no {count} lines {prefix!r} (exit {self.process.returncode}):\n"
                             + "\n".join(self.lines) + "\n" + self.stderr[-6000:])

    async def finish(self, timeout: float = 30) -> int:
        """Its exit code, once it exited (and its output is read)."""
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await asyncio.gather(*self._readers)
        return code

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum``."""
        self.process.send_signal(signum)


@pytest.fixture
async def run_bot() -> AsyncIterator[Any]:
    """``await run_bot("bots.record", "--url", ...)``: a started :class:`BotProcess`.

    The bots run without Django's settings, as they would on another machine.
    """
    started: list[BotProcess] = []
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    async def start(module: str, *args: str) -> BotProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        started.append(BotProcess(process))
        return started[-1]

    yield start
    alive = [p for p in started if p.process.returncode is None]
    for bot in alive:
        bot.process.kill()
        await bot.process.wait()
    assert not alive, "a bot process was still running at the end of the test"
