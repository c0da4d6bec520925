"""End to end in headless Chromium: two people in one call see and hear each other.

A real daphne (tests/web/livesite.py) with the real mediasoup worker; Debian's Chromium with
fake camera, microphone and screen; the call page's own buttons. Each page must play the
other's video (a remote <video> with real dimensions whose inbound-rtp bytes grow) and audio,
then a screen share must appear on the other page, then leaving must remove the tile and
mark the participant as gone on the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.web.livesite import LiveSite, seed_call, sign_in

JOIN_TIMEOUT_MS = 30_000

# A remote media element of `peer` plays: video with dimensions, audio with a live track.
PLAYING = """([peer, source, kind]) => {
  const selector = `${kind}[data-remote-peer="${peer}"][data-source="${source}"]`;
  const media = document.querySelector(selector);
  if (!media || media.paused || !media.srcObject) return false;
  const track = media.srcObject.getTracks()[0];
  if (!track || track.readyState !== 'live') return false;
  return kind === 'audio' || (media.videoWidth > 0 && media.videoHeight > 0);
}"""


async def _open_call(browser: Any, site: LiveSite, username: str, meeting_id: str) -> Any:
    """A new browser context (own cookies), signed in, on the call page, joined."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.on("console", lambda msg: print(f"[{username} console.{msg.type}] {msg.text}"))
    page.on("pageerror", lambda error: print(f"[{username} pageerror] {error}"))
    await sign_in(page, site, username)
    await page.goto(f"{site.url}/meetings/{meeting_id}/")
    join = page.locator('[data-action="join"]')
    await join.wait_for(state="visible")
    await page.wait_for_function("!document.querySelector('[data-action=join]').disabled")
    await join.click()
    await page.wait_for_function(
        "window.conference.state().call === 'joined'", timeout=JOIN_TIMEOUT_MS
    )
    return page


async def _peer_id(page: Any) -> str:
    return await page.evaluate("window.conference.state().peerId")


async def _inbound(page: Any, peer_id: str) -> dict[str, int]:
    stats = await page.evaluate("window.conference.stats()")
    return stats["inboundByPeer"].get(peer_id, {"audio": 0, "video": 0})


async def _assert_receiving(page: Any, peer_id: str) -> None:
    """`page` plays `peer_id`'s camera and microphone, and their RTP bytes keep growing."""
    for source, kind in (("webcam", "video"), ("mic", "audio")):
        await page.wait_for_function(PLAYING, arg=[peer_id, source, kind], timeout=JOIN_TIMEOUT_MS)
    before = await _inbound(page, peer_id)
    await asyncio.sleep(1.5)
    after = await _inbound(page, peer_id)
    assert after["video"] > before["video"] > 0, (before, after)
    assert after["audio"] > before["audio"] > 0, (before, after)


async def test_two_browsers_call_share_screen_and_leave(
    live_site: LiveSite, chromium: Any
) -> None:
    """Ada and Bob join; each plays the other's video and audio; Ada's screen share reaches
    Bob; when Ada leaves, her tile goes from Bob's page and the server marks her gone."""
    ids = seed_call(live_site)
    meeting_id = ids["meeting"]
    ada = await _open_call(chromium, live_site, "ada", meeting_id)
    bob = await _open_call(chromium, live_site, "bob", meeting_id)
    ada_peer, bob_peer = await _peer_id(ada), await _peer_id(bob)
    assert ada_peer and bob_peer and ada_peer != bob_peer

    await _assert_receiving(ada, bob_peer)
    await _assert_receiving(bob, ada_peer)
    # Names on the tiles, and the connection shown as connected.
    assert await bob.locator(f'.tile[data-peer-id="{ada_peer}"] .tile__name').inner_text() == (
        "Ada Lovelace"
    )
    await bob.wait_for_function(
        "document.querySelector('#connection').dataset.state === 'connected'"
    )

    await ada.click('[data-action="share-screen"]')
    await bob.wait_for_function(PLAYING, arg=[ada_peer, "screen", "video"], timeout=JOIN_TIMEOUT_MS)
    assert await ada.get_attribute('[data-action="share-screen"]', "aria-pressed") == "true"

    # Mute: Bob sees Ada's microphone marked off.
    await ada.click('[data-action="mute-mic"]')
    await bob.wait_for_function(
        f"document.querySelector('.tile[data-peer-id=\"{ada_peer}\"]').dataset.muted === 'true'"
    )

    await ada.click('[data-action="leave"]')
    await ada.wait_for_function("window.conference.state().view === 'after'")
    await bob.wait_for_function(
        f"!document.querySelector('[data-peer-id=\"{ada_peer}\"], "
        f"[data-remote-peer=\"{ada_peer}\"]')",
        timeout=JOIN_TIMEOUT_MS,
    )
    assert await bob.evaluate("window.conference.state().peers") == []

    await bob.click('[data-action="leave"]')
    await bob.wait_for_function("window.conference.state().view === 'after'")
    present = await asyncio.to_thread(
        live_site.seed,
        "import json; from meetings.models import Participant; "
        f"print(json.dumps(Participant.objects.filter(meeting_id='{meeting_id}', "
        "joined_at__isnull=False, left_at__isnull=True).count()))",
    )
    # The server notices the closed sockets shortly after the pages leave.
    for _ in range(20):
        if present == 0:
            break
        await asyncio.sleep(0.25)
        present = await asyncio.to_thread(
            live_site.seed,
            "import json; from meetings.models import Participant; "
            f"print(json.dumps(Participant.objects.filter(meeting_id='{meeting_id}', "
            "joined_at__isnull=False, left_at__isnull=True).count()))",
        )
    assert present == 0
