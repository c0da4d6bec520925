"""End to end in headless Chromium: device switching, camera off and on, keyboard use, and
pages that fit a phone's width."""

from __future__ import annotations

from typing import Any

from tests.web.livesite import (
    LiveSite,
    assert_growing,
    open_call,
    peer_id,
    seed_call,
    sign_in,
    wait_playing,
)

NO_SIDEWAYS_SCROLL = "document.scrollingElement.scrollWidth <= window.innerWidth"


async def test_switch_microphone_and_camera_off_and_on(
    live_site: LiveSite, chromium: Any
) -> None:
    """In the call, Ada picks another microphone in the Devices dialog (the producer's track
    is replaced, Bob still hears her), turns her camera off (Bob's tile shows no video) and on
    again with the keyboard (Bob sees video again)."""
    meeting_id = seed_call(live_site, title="Devices")["meeting"]
    ada = await open_call(chromium, live_site, "ada", meeting_id)
    bob = await open_call(chromium, live_site, "bob", meeting_id)
    ada_peer = await peer_id(ada)
    await wait_playing(bob, ada_peer, "mic", "audio")

    await ada.click('[data-action="settings"]')
    dialog = ada.locator("#settings-dialog")
    assert await dialog.is_visible()
    options = await ada.locator("#mic-select option").all_inner_texts()
    assert len(options) >= 2, options
    before = await ada.evaluate("window.conference.controller.local.mic.track.id")
    await ada.select_option("#mic-select", label=options[-1])
    # The producer's track becomes the chosen microphone (under load the page may replace the
    # track more than once on the way, e.g. a device-change event first: wait for the outcome).
    await ada.wait_for_function(
        """([old, label]) => {
            const mic = window.conference.controller.local.mic;
            return mic.track.id !== old && mic.producer.track.label === label;
        }""", arg=[before, options[-1]], timeout=15000,
    )
    await ada.keyboard.press("Escape")
    assert not await dialog.is_visible()
    await assert_growing(bob, ada_peer, kinds=("audio",))

    await ada.click('[data-action="toggle-camera"]')
    tile = f'.tile[data-peer-id="{ada_peer}"]'
    await bob.wait_for_function(f"document.querySelector('{tile}').dataset.video === 'off'")
    assert await ada.get_attribute('[data-action="toggle-camera"]', "aria-pressed") == "true"

    await ada.focus('[data-action="toggle-camera"]')
    await ada.keyboard.press("Enter")
    await bob.wait_for_function(f"document.querySelector('{tile}').dataset.video === 'on'")
    await wait_playing(bob, ada_peer, "webcam", "video")
    await assert_growing(bob, ada_peer, kinds=("video",))


async def test_controls_have_names_and_status_is_announced(
    live_site: LiveSite, chromium: Any
) -> None:
    """Every call control has an accessible name and a data-action; the connection state is
    in a polite live region."""
    meeting_id = seed_call(live_site, title="Accessibility")["meeting"]
    ada = await open_call(chromium, live_site, "ada", meeting_id)
    for action in ["mute-mic", "toggle-camera", "share-screen", "settings", "leave"]:
        button = ada.locator(f'[data-action="{action}"]')
        name = await button.evaluate("(el) => el.innerText.trim()")
        assert name, action
    status = ada.locator("#call-status")
    assert await status.get_attribute("aria-live") == "polite"
    await ada.wait_for_function("document.querySelector('#call-status').textContent.length > 0")


async def test_pages_fit_a_phone(live_site: LiveSite, chromium: Any) -> None:
    """At 360 px wide, the list, detail, pre-join and call pages scroll only vertically, and
    the call controls stay on screen."""
    meeting_id = seed_call(live_site, title="A meeting with a rather long title for a phone")[
        "meeting"
    ]
    context = await chromium.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = await context.new_page()
    await sign_in(page, live_site, "ada")
    for path in ["/meetings/", f"/meetings/{meeting_id}/details/", f"/meetings/{meeting_id}/"]:
        await page.goto(f"{live_site.url}{path}")
        assert await page.evaluate(NO_SIDEWAYS_SCROLL), path
    await page.wait_for_function("!document.querySelector('[data-action=join]').disabled")
    await page.click('[data-action="join"]')
    await page.wait_for_function("window.conference.state().call === 'joined'")
    assert await page.evaluate(NO_SIDEWAYS_SCROLL)
    box = await page.locator('[data-action="leave"]').bounding_box()
    assert box is not None and box["y"] + box["height"] <= 740 and box["x"] + box["width"] <= 360
    await context.close()
