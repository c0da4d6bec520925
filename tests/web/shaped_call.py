"""A call across a shaped link, for the adaptive-quality browser test and bench/quality.py.

The live site (tests/web/livesite.py) runs in its loopback-only namespace as usual, with one
more interface there: the server end of a :class:`bots.shaped_link.ShapedLink` whose other end
is in a second namespace of its own (``<LIVE_SITE_NETNS>-rx``). daphne listens on both, the
mediasoup worker on the link's address, so a browser started in the second namespace reaches
the call only through the shaped link, while a browser in the site's namespace (the
``chromium`` fixture) reaches it over loopback, unshaped.

The page's statistics come from ``window.conference.quality()`` (static/src/lib/quality-stats.js)
and the worker's own view of a consumer (which simulcast stream it forwards) from ``rtc:getStats``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.shaped_link import ShapedLink
from tests.support.waiting import eventually
from tests.web.livesite import CHROMIUM, CHROMIUM_ARGS, NETNS, LiveSite

CLIENT_NETNS = f"{NETNS}-rx"


def make_link() -> ShapedLink:
    """The shaped link between the site's namespace and the receiver's (not started)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise RuntimeError("a shaped link needs root and iproute2 (network namespaces, TUN)")
    return ShapedLink(server_ns=NETNS, client_ns=CLIENT_NETNS)


class ShapedSite(LiveSite):
    """The live site, also listening on the link's address (HTTP, WebSocket and media)."""

    def __init__(self, link: ShapedLink) -> None:
        super().__init__()
        self.link = link
        self.bind = "0.0.0.0"  # noqa: S104 (inside the test's own namespace)
        self.extra_env.update(
            ALLOWED_HOSTS=f"127.0.0.1,localhost,{link.server_ip}",
            MEDIASOUP_LISTEN_IP=link.server_ip,
        )


@dataclass(frozen=True)
class RemoteView:
    """The site as seen from the far end of the link (what ``open_call`` needs of a site)."""

    site: ShapedSite

    @property
    def url(self) -> str:
        return f"http://{self.site.link.server_ip}:{self.site.port}"


def chromium_in(namespace: str, directory: Path) -> str:
    """A wrapper script in ``directory`` that starts Chromium inside ``namespace``."""
    wrapper = directory / f"chromium-in-{namespace}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def launch_far_browser(playwright: Any, directory: Path, site: ShapedSite) -> Any:
    """Headless Chromium (fake devices) in the receiver's namespace, behind the link. The
    site's address there is not loopback, so plain HTTP is declared a secure context for it
    (devices and WebRTC need one), as HTTPS would be in production."""
    origin = RemoteView(site).url
    return await playwright.chromium.launch(
        executable_path=chromium_in(CLIENT_NETNS, directory), headless=True,
        args=[*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={origin}"])


def drop_client_netns() -> None:
    """Remove the receiver's namespace (the link's device there went with the link)."""
    subprocess.run(["ip", "netns", "del", CLIENT_NETNS], capture_output=True, check=False)


# --- reading the call's quality from the pages ------------------------------------------------

RECEIVED = """async (peer) => {
  const q = await window.conference.quality();
  if (!q) return null;
  const of = (kind) => q.inbound.find((s) => s.kind === kind && s.peerId === peer
                                            && s.source === (kind === 'video' ? 'webcam' : 'mic'));
  const video = of('video') ?? null;
  const audio = of('audio') ?? null;
  let layer = null;
  if (video?.consumerId) {
    try {
      const reply = await window.conference.signaling.request(
        'rtc:getStats', { consumerId: video.consumerId });
      const stream = reply.stats.find((s) => s.type === 'inbound-rtp' && s.rid);
      if (stream) layer = Number(String(stream.rid).replace(/\\D/g, ''));
    } catch (error) { /* the consumer may have gone */ }
  }
  const preferred = video ? window.conference.layers()[video.consumerId] ?? null : null;
  return { video, audio, layer, recv: q.recv, preferred };
}"""

SENT = """async () => {
  const q = await window.conference.quality();
  if (!q) return null;
  const camera = q.outbound.filter((s) => s.kind === 'video' && s.source === 'webcam');
  camera.sort((a, b) => String(a.rid).localeCompare(String(b.rid)));
  return { camera, told: window.conference.producerLayers(), send: q.send };
}"""


async def received(page: Any, peer: str) -> dict[str, Any]:
    """What ``page`` receives from ``peer``: video and audio inbound stats, the simulcast layer
    the worker forwards (``layer``), the layer the page asked for, the transport's RTT."""
    return await page.evaluate(RECEIVED, peer)


async def sent(page: Any) -> dict[str, Any]:
    """What ``page`` sends of its camera, per simulcast layer (rid), and what dynacast said."""
    return await page.evaluate(SENT)


async def wait_for(probe: Any, check: Any, *, timeout: float, every: float = 0.5,
                   what: str = "condition") -> Any:
    """Call ``await probe()`` until ``check(result)`` holds; the result, or AssertionError."""
    last: list[Any] = [None]

    async def looked() -> Any:
        last[0] = await probe()
        return (last[0],) if last[0] is not None and check(last[0]) else None

    try:
        [found] = await eventually(looked, timeout=timeout, every=every)
        return found
    except AssertionError:
        raise AssertionError(f"{what} not reached within {timeout}s; last: {last[0]}") from None
