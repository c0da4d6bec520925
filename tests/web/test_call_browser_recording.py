"""End to end in headless Chromium: the host records the call from the call page and
everyone sees it; the recording becomes ready and plays (and seeks) on the meeting page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.livesite import LiveSite, open_call, peer_id, seed_call, wait_playing

RECORDING_SHOWN = (
    "window.conference.recording() === {on} && "
    "document.querySelector('#recording-indicator').hidden === {hidden}"
)
pytestmark = [pytest.mark.timeout(300)]

READY_TIMEOUT = 120
"""Seconds the recording may take to become ready."""


async def _indicator(page: Any, on: bool) -> None:
    await page.wait_for_function(RECORDING_SHOWN.format(on=str(on).lower(),
                                                        hidden=str(not on).lower()))


async def _wait_ready(page: Any, url: str) -> None:
    """Open the meeting page until its recording has a player (it is composed meanwhile)."""
    for _ in range(READY_TIMEOUT // 2):
        await page.goto(url)
        if await page.locator("video.recording__player").count():
            return
        await page.wait_for_timeout(2000)
    raise AssertionError(await page.locator("#recordings").inner_text())


async def test_host_records_everyone_sees_it_and_it_plays_on_the_meeting_page(
        live_site: LiveSite, chromium: Any) -> None:
    """Ada presses Record: both pages show the indicator (Bob has no Record button); after a
    few seconds she presses it again and both indicators go; on the meeting page the
    recording becomes ready, Ada's and Bob's players play it and seek into it (range
    requests), and only Ada may delete it."""
    meeting_id = seed_call(live_site, title="Recorded review")["meeting"]
    ada = await open_call(chromium, live_site, "ada", meeting_id)
    bob = await open_call(chromium, live_site, "bob", meeting_id)
    await wait_playing(bob, await peer_id(ada), "webcam", "video")
    assert await bob.locator('[data-action="record"]').count() == 0
    record = ada.locator('[data-action="record"]')
    assert await record.inner_text() == "Record"

    await record.click()
    for page in (ada, bob):
        await _indicator(page, True)
    assert await record.get_attribute("aria-pressed") == "true"
    assert await record.inner_text() == "Stop recording"
    assert "Ada Lovelace started recording this call." in await bob.locator("#toasts").inner_text()
    await ada.wait_for_timeout(6000)
    await record.click()
    for page in (ada, bob):
        await _indicator(page, False)

    details = f"{live_site.url}/meetings/{meeting_id}/details/"
    for page in (ada, bob):
        await _wait_ready(page, details)
        played = await page.evaluate("""async () => {
            const video = document.querySelector('video.recording__player');
            video.muted = true;
            await video.play();
            await new Promise((resolve) => setTimeout(resolve, 1500));
            const playing = {time: video.currentTime, width: video.videoWidth,
                             duration: video.duration};
            video.pause();
            await new Promise((resolve) => {
                video.addEventListener('seeked', resolve, {once: true});
                video.currentTime = 4;
            });
            return {...playing, seekedTo: video.currentTime};
        }""")
        assert played["time"] > 0.5 and played["width"] > 0, played
        assert 4 < played["duration"] < 20, played
        assert abs(played["seekedTo"] - 4) < 0.5, played
    assert await ada.locator("#recordings form button").count() == 1
    assert await bob.locator("#recordings form button").count() == 0
