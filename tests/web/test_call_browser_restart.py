"""End to end in headless Chromium: the server restarts under a call.

daphne is stopped with SIGTERM (its polite shutdown: `rtc:reconnect` with `server_shutdown`,
then every socket closed with 4503) and started again on the same port and database. The
pages must say the server is restarting (in each user's language), keep trying with backoff
while it is down, then join the call afresh on the new server and see each other again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.web.livesite import (
    JOIN_TIMEOUT_MS,
    LiveSite,
    call_of_two,
    peer_id,
    wait_playing,
)
from tests.web.presence import present, wait_present

RESTARTING = {"en": "The server is restarting. Reconnecting…",
              "zh-hans": "服务器正在重启，正在重新连接…"}
SHOWS_RESTARTING = """(text) => {
  const state = window.conference.state();
  return state.view === 'call' && state.call === 'reconnecting'
    && state.connection === 'reconnecting' && state.connectionText === text;
}"""


async def test_server_restart_shows_why_and_the_call_comes_back(
    live_site: LiveSite, chromium: Any
) -> None:
    """Ada (English) and Bob (Chinese) are in a call when daphne stops: both pages say the
    server is restarting, and keep saying it while it is down (no error screen, no "connection
    lost"); both leaves are written by the shutdown. When daphne is back, each page rejoins
    (as a new peer: the old ones went with the old server) and plays the other's video."""
    meeting_id, ada, bob = await call_of_two(chromium, live_site, "Restart", locale="zh-CN")
    old_ada, old_bob = await peer_id(ada), await peer_id(bob)
    await wait_playing(bob, old_ada, "webcam", "video")
    await wait_playing(ada, old_bob, "webcam", "video")

    stopped = await asyncio.to_thread(live_site.stop)
    assert stopped == 0, live_site.log()
    for page, language in ((ada, "en"), (bob, "zh-hans")):
        await page.wait_for_function(SHOWS_RESTARTING, arg=RESTARTING[language], timeout=10_000)
    assert await present(live_site, meeting_id) == 0, "the shutdown wrote both leaves"
    # Still down two seconds later (the retries fail with 1006): same message, no error.
    await asyncio.sleep(2)
    for page, language in ((ada, "en"), (bob, "zh-hans")):
        assert await page.evaluate(SHOWS_RESTARTING, RESTARTING[language])
    # Backoff (1 s, 2 s, 4 s ...), not a tight loop: a handful of attempts since the 4503.
    attempts = await ada.evaluate("window.conference.signaling.attempt")
    assert 1 <= attempts <= 8, attempts

    started = time.monotonic()
    await asyncio.to_thread(live_site.start)
    for page, old in ((ada, old_ada), (bob, old_bob)):
        await page.wait_for_function(
            f"""(() => {{
              const state = window.conference.state();
              return state.call === 'joined' && state.socket === 'open'
                && state.peerId && state.peerId !== '{old}' && state.sessions === 2
                && state.connection !== 'reconnecting';
            }})()""",
            timeout=JOIN_TIMEOUT_MS,
        )
    back_after = time.monotonic() - started
    new_ada, new_bob = await peer_id(ada), await peer_id(bob)
    await wait_playing(bob, new_ada, "webcam", "video")
    await wait_playing(ada, new_bob, "webcam", "video")
    assert await present(live_site, meeting_id) == 2
    assert back_after < 30, back_after

    for page in (ada, bob):
        await page.click('[data-action="leave"]')
        await page.wait_for_function("window.conference.state().view === 'after'")
    await wait_present(live_site, meeting_id, 0, within=5)
