#!/usr/bin/env python3
"""Take the README's screenshots with the same set-up as the browser test.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--lang en|zh-hans]

Starts daphne on a free port with its own SQLite database (tests/web/livesite.py), creates two
users and a few meetings, and drives Debian's headless Chromium (fake camera, microphone and
screen): the meetings list of the host, then a call with two participants seen by the host.
Writes meetings-list.png and call-two-participants.png.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.livesite import (  # noqa: E402
    CHROMIUM_ARGS,
    LiveSite,
    build_static,
    chromium_executable,
    seed_call,
    sign_in,
)

EXTRA_MEETINGS = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from meetings import services
ada = get_user_model().objects.get(username="ada")
now = timezone.now().replace(second=0, microsecond=0)
services.meeting_create(host=ada, title="Sprint planning",
    scheduled_start=now + timedelta(days=1), scheduled_end=now + timedelta(days=1, hours=1))
services.meeting_create(host=ada, title="Customer demo: mediasoup from Python",
    scheduled_start=now + timedelta(days=3), scheduled_end=now + timedelta(days=3, hours=1))
old = services.meeting_create(host=ada, title="Retrospective")
services.participant_mark_joined(meeting=old, user=ada)
services.meeting_end(meeting=old, actor=ada)
print(json.dumps(True))
"""

PLAYING = """(peer) => {
  const video = document.querySelector(`video[data-remote-peer="${peer}"][data-source="webcam"]`);
  return Boolean(video && video.videoWidth > 0 && !video.paused);
}"""


async def take(out: Path, language: str) -> None:
    """Run the site, drive two browsers, write the two screenshots into `out`."""
    from playwright.async_api import async_playwright

    build_static()
    site = LiveSite().start()
    try:
        ids = seed_call(site, title="Design review")
        site.seed(EXTRA_MEETINGS)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium_executable(site.workdir), args=CHROMIUM_ARGS, headless=True
            )
            pages = {}
            for user in ("ada", "bob"):
                context = await browser.new_context(
                    viewport={"width": 1280, "height": 760}, locale=language,
                    extra_http_headers={"Accept-Language": language},
                )
                pages[user] = page = await context.new_page()
                await sign_in(page, site, user)
            ada, bob = pages["ada"], pages["bob"]

            # The call goes live first, so the list shows a live meeting too.
            for page in (ada, bob):
                await page.goto(f"{site.url}/meetings/{ids['meeting']}/")
                await page.wait_for_function(
                    "!document.querySelector('[data-action=join]').disabled"
                )
                await page.click('[data-action="join"]')
                await page.wait_for_function("window.conference.state().call === 'joined'")
            bob_peer = await bob.evaluate("window.conference.state().peerId")
            await ada.wait_for_function(PLAYING, arg=bob_peer, timeout=30_000)
            await asyncio.sleep(2)  # let the fake camera's picture settle
            out.mkdir(parents=True, exist_ok=True)
            await ada.screenshot(path=str(out / "call-two-participants.png"))

            lister = await (await browser.new_context(
                viewport={"width": 1280, "height": 760}, locale=language,
                extra_http_headers={"Accept-Language": language},
            )).new_page()
            await sign_in(lister, site, "ada")
            await lister.goto(f"{site.url}/meetings/")
            await lister.screenshot(path=str(out / "meetings-list.png"), full_page=True)
            await browser.close()
    finally:
        site.cleanup()


def main() -> None:
    """Parse arguments and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--lang", default="en", choices=["en", "zh-hans"])
    args = parser.parse_args()
    asyncio.run(take(args.out, args.lang))
    print(f"screenshots written to {args.out}")


if __name__ == "__main__":
    main()
