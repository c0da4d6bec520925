"""A real site for browser tests and screenshots: daphne serving the project on a free port.

The server is the project's live daphne (`bots.live_daphne`: a daphne subprocess run the way
`make run` does, on a SQLite file of its own and, when the suite runs on Redis, channels-redis),
here with one mediasoup worker, static files served by the app, inside a loopback-only network
namespace.
Users and meetings are created with `manage.py shell`, in the same database the server reads.

Used by tests/web/conftest.py and scripts/screenshots.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bots.fault_proxy import FaultProxy
from bots.live_daphne import ROOT, LiveDaphne, answers_http

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


def build_static() -> None:
    """Bundle the call page's JavaScript (no-op when up to date); fail loudly if impossible."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-static.sh")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/build-static.sh failed:\n{result.stdout}\n{result.stderr}")


class LiveSite(LiveDaphne):
    """The project's live daphne (``bots.live_daphne``) as the browser tests need it: inside
    the loopback-only namespace, static files served by the app, one worker, its own SQLite
    file, and the suite's channel layer: in-memory by default, channels-redis (under a prefix
    of its own) when the suite runs on Redis (``REDIS_URL``), so the pages' events travel the
    way they do in a deployment. ``start()``, then ``stop()`` (restartable on the same port),
    finally ``cleanup()``.

    Inside the namespace the host's loopback Redis is out of reach: the server reaches it
    through a :class:`bots.fault_proxy.FaultProxy` listening on a Unix socket in the site's
    directory (the namespace shares the filesystem). The database stays a SQLite file on both
    passes: a fresh PostgreSQL database takes about 50 s to migrate on this busy machine, per
    test module; the PostgreSQL pass exercises PostgreSQL through the other live servers.
    """

    def __init__(self) -> None:
        redis = os.environ.get("REDIS_URL", "")
        super().__init__(
            env={"SERVE_STATIC": "1"}, worker_num=1, wrap=in_netns, probe=LiveSite.answers,
            log_level=os.environ.get("LIVE_SITE_LOG_LEVEL", "INFO"),
            secret_key="live-site-test-key-not-secret-0123456789abcdefghijklmnop",
            prefix="conference-live-", redis_url=redis or None)
        self.redis_proxy: FaultProxy | None = None
        if redis and loopback_netns() is not None:
            target = urlparse(redis)
            self.redis_proxy = FaultProxy(
                target.hostname or "127.0.0.1", target.port or 6379,
                listen=str(self.workdir / "redis.sock")).start()
            self.redis_url = self.redis_proxy.url("redis", target.path)

    def cleanup(self) -> int | None:
        """Stop the server, close the Redis proxy, delete the directory."""
        try:
            return super().cleanup()
        finally:
            if self.redis_proxy is not None:
                self.redis_proxy.close()

    def seed(self, code: str) -> Any:
        """Run Python ``code`` in ``manage.py shell``; it prints one JSON line, returned parsed."""
        return self.shell(code)

    @staticmethod
    def answers(url: str) -> bool:
        """True when ``url`` answers 200, asked from inside the server's namespace."""
        if loopback_netns() is None:
            return answers_http(url)
        probe = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)"
        result = subprocess.run(
            in_netns([sys.executable, "-c", probe, url]), capture_output=True, check=False
        )
        return result.returncode == 0


SEED_USERS = """
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
"""
"""The start of every seed script: users ada and bob with the password formatted in
(``{password!r}``), made once; a script goes on with its meeting (``services``, ``json``)."""

SEED_CALL = SEED_USERS + """meeting = services.meeting_create(host=ada, title={title!r})
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


async def call_of_two(browser: Any, site: LiveSite, title: str,
                      **bob_options: Any) -> tuple[str, Any, Any]:
    """A new meeting from :func:`seed_call` with ada, then bob (``bob_options`` for his
    :func:`open_call`), each on the call page and joined: the meeting's id and their pages."""
    meeting_id = seed_call(site, title=title)["meeting"]
    ada = await open_call(browser, site, "ada", meeting_id)
    bob = await open_call(browser, site, "bob", meeting_id, **bob_options)
    return meeting_id, ada, bob


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
    """`page` receives RTP from `peer` (within 15 s) and the bytes grow within 1.5 s, per kind."""
    from tests.support.waiting import eventually

    async def receiving() -> dict[str, int] | None:
        counts = await inbound_from(page, peer)
        return counts if all(counts[kind] > 0 for kind in kinds) else None

    before = await eventually(receiving, timeout=15, every=0.2,
                              what=f"nothing received of {kinds} from {peer}")
    last: list[dict[str, int]] = [before]

    async def grown() -> bool:
        last[0] = await inbound_from(page, peer)
        return all(last[0][kind] > before[kind] for kind in kinds)

    try:
        await eventually(grown, timeout=1.5, every=0.2)
    except AssertionError:
        pass  # the assertion below says which kind did not grow
    after = last[0]
    for kind in kinds:
        assert after[kind] > before[kind] > 0, (kind, before, after)
