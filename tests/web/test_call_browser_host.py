"""End to end in headless Chromium: the host's powers as the other participant sees them."""

from __future__ import annotations

from typing import Any

from tests.web.livesite import (
    JOIN_TIMEOUT_MS,
    LiveSite,
    call_of_two,
    peer_id,
    wait_playing,
)


async def _after_call_reason(page: Any) -> str:
    await page.wait_for_function(
        "window.conference.state().view === 'after'", timeout=JOIN_TIMEOUT_MS
    )
    return str(await page.locator("#after-reason").inner_text())


async def test_host_ends_the_meeting_for_everyone(live_site: LiveSite, chromium: Any) -> None:
    """Ada ends the meeting from its detail page (after confirming); Bob's call page closes
    with "The host ended the meeting." and offers no rejoin; the call page then says ended."""
    meeting_id, ada, bob = await call_of_two(chromium, live_site, "To be ended")
    await wait_playing(bob, await peer_id(ada), "webcam", "video")

    details = await ada.context.new_page()
    details.on("dialog", lambda dialog: dialog.accept())
    await details.goto(f"{live_site.url}/meetings/{meeting_id}/details/")
    await details.click("form[action$='/end/'] button")
    await details.wait_for_load_state()

    assert await _after_call_reason(bob) == "The host ended the meeting."
    assert await bob.locator("#rejoin").is_hidden()
    response = await bob.goto(f"{live_site.url}/meetings/{meeting_id}/")
    assert response is not None and response.status == 410


async def test_host_mutes_then_removes_a_peer(live_site: LiveSite, chromium: Any) -> None:
    """Ada mutes Bob from his tile (Bob's page shows his microphone off and says why), then
    removes him; Bob's page says he was removed, and his tile leaves Ada's page."""
    _, ada, bob = await call_of_two(chromium, live_site, "Removal")
    bob_peer = await peer_id(bob)
    await wait_playing(ada, bob_peer, "webcam", "video")
    # Only the host's page has host actions.
    assert await bob.locator("[data-host-action]").count() == 0

    ada.on("dialog", lambda dialog: dialog.accept())
    tile = ada.locator(f'.tile[data-peer-id="{bob_peer}"]')
    await tile.hover()
    await tile.locator('[data-host-action="mute"]').click()
    await bob.wait_for_function(
        "document.querySelector('[data-action=\"mute-mic\"]').getAttribute('aria-pressed') "
        "=== 'true'"
    )
    assert "The host muted your microphone." in await bob.locator("#toasts").inner_text()
    await ada.wait_for_function(
        f"document.querySelector('.tile[data-peer-id=\"{bob_peer}\"]').dataset.muted === 'true'"
    )
    await tile.locator('[data-host-action="remove"]').click()

    assert await _after_call_reason(bob) == "The host removed you from the meeting."
    await ada.wait_for_function(
        f"!document.querySelector('[data-peer-id=\"{bob_peer}\"]')", timeout=JOIN_TIMEOUT_MS
    )
