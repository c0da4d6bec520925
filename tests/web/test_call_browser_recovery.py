"""End to end in headless Chromium: the call page survives a dropped socket and a dead media
worker, joins without a camera, and picks simulcast layers by tile size."""

from __future__ import annotations

import os
import signal
from typing import Any

from tests.support.processes import worker_children
from tests.web.livesite import (
    JOIN_TIMEOUT_MS,
    LiveSite,
    assert_growing,
    call_of_two,
    peer_id,
    wait_playing,
)

DENY_CAMERA = """
(() => {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    if (constraints && constraints.video) {
      throw new DOMException('Permission denied', 'NotAllowedError');
    }
    return original(constraints);
  };
})();
"""


async def _both_receive(ada: Any, bob: Any) -> tuple[str, str]:
    ada_peer, bob_peer = await peer_id(ada), await peer_id(bob)
    for page, other in ((ada, bob_peer), (bob, ada_peer)):
        await wait_playing(page, other, "webcam", "video")
        await wait_playing(page, other, "mic", "audio")
        await assert_growing(page, other)
    return ada_peer, bob_peer


async def test_socket_drop_resumes_the_same_peer_and_media(
    live_site: LiveSite, chromium: Any
) -> None:
    """When Ada's WebSocket drops, the page reconnects and resumes her peer (same peerId, same
    transports): Bob never loses her tile and her media keeps flowing both ways."""
    _, ada, bob = await call_of_two(chromium, live_site, "Socket drop")
    ada_peer, bob_peer = await _both_receive(ada, bob)

    await ada.evaluate("window.conference.signaling.reconnect('test')")
    await ada.wait_for_function("window.conference.state().socket !== 'open'")
    await ada.wait_for_function(
        "window.conference.state().socket === 'open' && "
        "window.conference.state().call === 'joined'",
        timeout=JOIN_TIMEOUT_MS,
    )
    state = await ada.evaluate("window.conference.state()")
    assert state["peerId"] == ada_peer
    assert state["sessions"] == 1  # resumed: the same transports, no new media session
    assert await bob.evaluate("window.conference.state().peers") == [ada_peer]
    await assert_growing(bob, ada_peer)
    await assert_growing(ada, bob_peer)


async def test_dead_worker_is_replaced_and_both_pages_reconnect(
    live_site: LiveSite, chromium: Any
) -> None:
    """Killing the mediasoup worker under a live call: the server moves the room to a new
    worker and says rtc:reconnect; both pages rebuild their media and hear and see each
    other again."""
    _, ada, bob = await call_of_two(chromium, live_site, "Worker death")
    ada_peer, bob_peer = await _both_receive(ada, bob)
    assert live_site.process is not None
    workers = worker_children(live_site.process.pid)
    assert workers, "no mediasoup-worker under daphne"

    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    for page in (ada, bob):
        await page.wait_for_function(
            "window.conference.state().sessions >= 2 && "
            "window.conference.state().call === 'joined'",
            timeout=JOIN_TIMEOUT_MS,
        )
    await _both_receive(ada, bob)
    assert await peer_id(ada) == ada_peer and await peer_id(bob) == bob_peer
    new_workers = worker_children(live_site.process.pid)
    assert new_workers and not set(new_workers) & set(workers)


async def test_denied_camera_is_explained_and_audio_only_works(
    live_site: LiveSite, chromium: Any
) -> None:
    """Bob's browser refuses the camera: the pre-join screen says so, he joins with audio
    only; Ada hears him and sees his tile without video, and he still sees Ada."""
    _, ada, bob = await call_of_two(chromium, live_site, "Audio only",
                                    init_script=DENY_CAMERA)
    ada_peer, bob_peer = await peer_id(ada), await peer_id(bob)
    problems = await bob.locator("#media-problems").inner_text()
    assert "Camera access was denied" in problems

    await wait_playing(ada, bob_peer, "mic", "audio")
    await assert_growing(ada, bob_peer, kinds=("audio",))
    tile = ada.locator(f'.tile[data-peer-id="{bob_peer}"]')
    assert await tile.get_attribute("data-video") == "off"
    assert await ada.locator(f'video[data-remote-peer="{bob_peer}"]').count() == 0
    await wait_playing(bob, ada_peer, "webcam", "video")
    await assert_growing(bob, ada_peer)


async def test_layers_follow_tile_size(live_site: LiveSite, chromium: Any) -> None:
    """The camera is sent as three simulcast layers; a big tile asks the server for a higher
    spatial layer than a small one (rtc:setPreferredLayers, accepted by the server)."""
    _, ada, bob = await call_of_two(chromium, live_site, "Layers")
    ada_peer = await peer_id(ada)
    await wait_playing(bob, ada_peer, "webcam", "video")
    consumer_id = await bob.get_attribute(
        f'video[data-remote-peer="{ada_peer}"][data-source="webcam"]', "data-consumer-id"
    )
    layers = await bob.evaluate(
        "(id) => window.conference.controller.consumers.get(id).consumer"
        ".rtpParameters.encodings[0].scalabilityMode",
        consumer_id,
    )
    assert layers and layers.startswith("L3"), layers

    await bob.wait_for_function(
        "(id) => Boolean(window.conference.layers()[id])", arg=consumer_id
    )
    big = await bob.evaluate("(id) => window.conference.layers()[id]", consumer_id)
    await bob.set_viewport_size({"width": 420, "height": 360})
    await bob.wait_for_function(
        "([id, big]) => window.conference.layers()[id] && window.conference.layers()[id] !== big",
        arg=[consumer_id, big],
    )
    small = await bob.evaluate("(id) => window.conference.layers()[id]", consumer_id)
    assert int(small.split("/")[0]) < int(big.split("/")[0]), (small, big)
    await assert_growing(bob, ada_peer, kinds=("video",))
