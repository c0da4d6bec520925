"""A real site for browser tests and screenshots: daphne serving the project on a free port.

pytest-django's live_server is WSGI-only (no WebSockets), so this runs the ASGI app the way
`make run` does: a daphne subprocess, on its own SQLite file database (migrated here), the
in-memory channel layer, one mediasoup worker, static files served by the app. Users and
meetings are created with `manage.py shell`, in the same database the server reads.

Used by tests/web/conftest.py and scripts/screenshots.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # In the namespace below only loopback exists: let WebRTC gather candidates on it.
    "--allow-loopback-in-peer-connection",
]

# The browser and the server run in a network namespace of their own with only loopback up, so
# that Chromium's WebRTC never uses (or makes the worker answer to) this machine's other
# interface addresses: every packet of these tests goes to 127.0.0.1. Needs root and iproute2
# (CI has both); elsewhere the tests run on the host's network, still bound to 127.0.0.1.
NETNS = os.environ.get("LIVE_SITE_NETNS", "conference-web")


def loopback_netns() -> str | None:
    """The namespace's name once it exists with `lo` up, or None where it cannot be made."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return None
    subprocess.run(["ip", "netns", "add", NETNS], capture_output=True, check=False)
    up = subprocess.run(
        ["ip", "-n", NETNS, "link", "set", "lo", "up"], capture_output=True, check=False
    )
    return NETNS if up.returncode == 0 else None


def in_netns(command: list[str]) -> list[str]:
    """`command`, run inside the loopback-only namespace when there is one."""
    netns = loopback_netns()
    return ["ip", "netns", "exec", netns, *command] if netns else command


def chromium_executable(directory: Path) -> str:
    """Chromium itself, or a wrapper in `directory` that starts it inside the namespace."""
    if loopback_netns() is None:
        return CHROMIUM
    wrapper = directory / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec {" ".join(in_netns([CHROMIUM]))} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)
PASSWORD = "browser-test-password-1"

# Server environment: embedded defaults, whatever the test run itself uses.
_DROP = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")


def free_port() -> int:
    """A TCP port nobody listens on right now (on loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_static() -> None:
    """Bundle the call page's JavaScript (no-op when up to date); fail loudly if impossible."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-static.sh")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/build-static.sh failed:\n{result.stdout}\n{result.stderr}")


@dataclass
class LiveSite:
    """A running daphne with its own database; `start()`, then `stop()`."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="conference-live-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        """Base URL, no trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.workdir / "db.sqlite3"

    def env(self) -> dict[str, str]:
        """The server's environment: its own SQLite file, in-memory layer, one worker."""
        env = {k: v for k, v in os.environ.items() if k not in _DROP}
        env.update(
            DATABASE_URL=f"sqlite:///{self.database}",
            DEBUG="1",
            SERVE_STATIC="1",
            SECRET_KEY="live-site-test-key-not-secret-0123456789abcdefghijklmnop",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            MEDIASOUP_WORKER_NUM="1",
            MEDIASOUP_LISTEN_IP="127.0.0.1",
            LOG_LEVEL=os.environ.get("LIVE_SITE_LOG_LEVEL", "INFO"),
            PYTHONUNBUFFERED="1",
        )
        return env

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run `manage.py *args` against the site's database; its stdout."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args[:1])} failed:\n{result.stderr}")
        return result.stdout

    def seed(self, code: str) -> Any:
        """Run Python `code` in `manage.py shell`; it must print one JSON line, returned parsed."""
        out = self.manage("shell", "-c", code)
        return json.loads(out.strip().splitlines()[-1])

    def start(self, *, timeout: float = 60) -> LiveSite:
        """Migrate, start daphne, wait until it answers HTTP."""
        self.manage("migrate", "--noinput")
        self.log_path = self.workdir / "daphne.log"
        log = self.log_path.open("wb")
        daphne = Path(sys.executable).with_name("daphne")
        self.process = subprocess.Popen(
            in_netns([str(daphne), "-b", "127.0.0.1", "-p", str(self.port),
                      "conference.asgi:application"]),
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            if self.answers(f"{self.url}/accounts/login/"):
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {timeout}s:\n{self.log()}")

    @staticmethod
    def answers(url: str) -> bool:
        """True when `url` answers 200, asked from inside the server's namespace."""
        if loopback_netns() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    return response.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False
        probe = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)"
        result = subprocess.run(
            in_netns([sys.executable, "-c", probe, url]), capture_output=True, check=False
        )
        return result.returncode == 0

    def log(self) -> str:
        """The server's output so far (for failure messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-20000:]

    def stop(self) -> int | None:
        """Stop daphne (SIGTERM, then SIGKILL); its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


SEED_CALL = """
import json
from django.contrib.auth import get_user_model
from meetings import services
User = get_user_model()
def user(username, first, last):
    found = User.objects.filter(username=username).first()
    return found or User.objects.create_user(
        username, password={password!r}, first_name=first, last_name=last)
ada = user("ada", "Ada", "Lovelace")
bob = user("bob", "Bob", "Chen")
meeting = services.meeting_create(host=ada, title={title!r})
services.participant_invite(meeting=meeting, actor=ada, username="bob")
print(json.dumps({{"meeting": str(meeting.id), "ada": ada.pk, "bob": bob.pk}}))
"""


def seed_call(site: LiveSite, title: str = "Design review") -> dict[str, Any]:
    """Users ada (host) and bob (invited) with PASSWORD (made once), a new meeting; ids."""
    return site.seed(SEED_CALL.format(password=PASSWORD, title=title))


async def sign_in(page: Any, site: LiveSite, username: str) -> None:
    """Sign `username` in through the login form (a real session cookie)."""
    await page.goto(f"{site.url}/accounts/login/")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("main form button[type=submit]")
    await page.wait_for_url(lambda url: "/accounts/login/" not in url)


# --- driving the call page ---------------------------------------------------------------------

JOIN_TIMEOUT_MS = 45_000  # generous: the machine may be busy with other test runs

# A remote media element of `peer` plays: video with dimensions, audio with a live track.
PLAYING = """([peer, source, kind]) => {
  const selector = `${kind}[data-remote-peer="${peer}"][data-source="${source}"]`;
  const media = document.querySelector(selector);
  if (!media || media.paused || !media.srcObject) return false;
  const track = media.srcObject.getTracks()[0];
  if (!track || track.readyState !== 'live') return false;
  return kind === 'audio' || (media.videoWidth > 0 && media.videoHeight > 0);
}"""


async def open_call(
    browser: Any,
    site: LiveSite,
    username: str,
    meeting_id: str,
    *,
    camera: bool = True,
    viewport: dict[str, int] | None = None,
    init_script: str | None = None,
    locale: str | None = None,
) -> Any:
    """A new browser context (own cookies), signed in, on the call page, joined.

    `camera=False` unticks the camera on the pre-join screen (audio only); `init_script` runs
    before the page's own scripts (e.g. to make getUserMedia fail); `locale` (e.g. "zh-CN")
    is the browser's language, which the site answers in.
    """
    options: dict[str, Any] = {"viewport": viewport or {"width": 1280, "height": 800}}
    if locale:
        options["locale"] = locale
    context = await browser.new_context(**options)
    context.set_default_timeout(JOIN_TIMEOUT_MS)
    if init_script:
        await context.add_init_script(init_script)
    page = await context.new_page()
    page.on("console", lambda msg: print(f"[{username} console.{msg.type}] {msg.text}"))
    page.on("pageerror", lambda error: print(f"[{username} pageerror] {error}"))
    await sign_in(page, site, username)
    await page.goto(f"{site.url}/meetings/{meeting_id}/")
    await page.wait_for_function(
        "document.querySelector('[data-action=join]') && "
        "!document.querySelector('[data-action=join]').disabled"
    )
    if not camera and await page.is_checked("#prejoin-camera"):
        await page.uncheck("#prejoin-camera")
    await page.click('[data-action="join"]')
    await page.wait_for_function(
        "window.conference.state().call === 'joined'", timeout=JOIN_TIMEOUT_MS
    )
    return page


async def peer_id(page: Any) -> str:
    """The page's own peer id in the call."""
    return str(await page.evaluate("window.conference.state().peerId"))


async def inbound_from(page: Any, peer: str) -> dict[str, int]:
    """RTP bytes `page` has received from `peer` so far, by kind."""
    stats = await page.evaluate("window.conference.stats()")
    return stats["inboundByPeer"].get(peer, {"audio": 0, "video": 0})


async def wait_playing(page: Any, peer: str, source: str, kind: str) -> None:
    """Wait until `page` plays `peer`'s `source` (webcam, mic, screen)."""
    await page.wait_for_function(PLAYING, arg=[peer, source, kind], timeout=JOIN_TIMEOUT_MS)


async def assert_growing(page: Any, peer: str, kinds: tuple[str, ...] = ("audio", "video")) -> None:
    """`page` receives RTP from `peer` (within 15 s) and the bytes grow over 1.5 s, per kind."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + 15
    before = await inbound_from(page, peer)
    while not all(before[kind] > 0 for kind in kinds):
        assert asyncio.get_running_loop().time() < deadline, ("nothing received", kinds, before)
        await asyncio.sleep(0.2)
        before = await inbound_from(page, peer)
    await asyncio.sleep(1.5)
    after = await inbound_from(page, peer)
    for kind in kinds:
        assert after[kind] > before[kind] > 0, (kind, before, after)
