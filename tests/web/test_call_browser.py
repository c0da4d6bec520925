"""End to end in headless Chromium: two people in one call see and hear each other.

A real daphne (tests/web/livesite.py) with the real mediasoup worker; Debian's Chromium with
fake camera, microphone and screen; the call page's own buttons. Each page must play the
other's video (a remote <video> with real dimensions whose inbound-rtp bytes grow) and audio,
then a screen share must appear on the other page, then leaving must remove the tile and
mark the participant as gone on the server at once: well before the reconnect grace (15 s)
a dropped socket's peer gets, which is what a leave that the server missed would look like.
"""

from __future__ import annotations

from typing import Any

from tests.web.livesite import (
    JOIN_TIMEOUT_MS,
    LiveSite,
    assert_growing,
    call_of_two,
    open_call,
    peer_id,
    seed_call,
    wait_playing,
)
from tests.web.presence import present, wait_present

PROMPTLY = 5.0
"""Seconds within which a leave must be written: a third of the 15 s reconnect grace."""


async def test_two_browsers_call_share_screen_and_leave(
    live_site: LiveSite, chromium: Any
) -> None:
    """Ada and Bob join; each plays the other's video and audio; Ada's screen share reaches
    Bob; when Ada leaves, her tile goes from Bob's page and the server marks her gone."""
    ids = seed_call(live_site)
    meeting_id = ids["meeting"]
    ada = await open_call(chromium, live_site, "ada", meeting_id)
    bob = await open_call(chromium, live_site, "bob", meeting_id)
    ada_peer, bob_peer = await peer_id(ada), await peer_id(bob)
    assert ada_peer and bob_peer and ada_peer != bob_peer

    for page, other in ((ada, bob_peer), (bob, ada_peer)):
        await wait_playing(page, other, "webcam", "video")
        await wait_playing(page, other, "mic", "audio")
        await assert_growing(page, other)
    # Names on the tiles, and the connection shown as connected.
    name = await bob.locator(f'.tile[data-peer-id="{ada_peer}"] .tile__name').inner_text()
    assert name == "Ada Lovelace"
    await bob.wait_for_function(
        "document.querySelector('#connection').dataset.state === 'connected'"
    )
    assert await present(live_site, meeting_id) == 2

    await ada.click('[data-action="share-screen"]')
    await wait_playing(bob, ada_peer, "screen", "video")
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
    await wait_present(live_site, meeting_id, 1, within=PROMPTLY)

    await bob.click('[data-action="leave"]')
    await bob.wait_for_function("window.conference.state().view === 'after'")
    await wait_present(live_site, meeting_id, 0, within=PROMPTLY)


async def test_closing_the_tab_leaves_the_call_at_once(live_site: LiveSite, chromium: Any) -> None:
    """Ada closes her tab in the middle of the call: the page says rtc:leave as it goes, so
    her tile leaves Bob's page and she is marked gone at once, not when the reconnect grace of
    a dropped socket (15 s) would run out."""
    meeting_id, ada, bob = await call_of_two(chromium, live_site, "Tab closed")
    ada_peer = await peer_id(ada)
    await wait_playing(bob, ada_peer, "webcam", "video")
    assert await present(live_site, meeting_id) == 2

    await ada.close(run_before_unload=True)
    await bob.wait_for_function(
        f"!document.querySelector('[data-peer-id=\"{ada_peer}\"]')", timeout=PROMPTLY * 1000
    )
    await wait_present(live_site, meeting_id, 1, within=PROMPTLY)

    await bob.click('[data-action="leave"]')
    await bob.wait_for_function("window.conference.state().view === 'after'")
    await wait_present(live_site, meeting_id, 0, within=PROMPTLY)
