"""Call quality under shaped links: what a receiver gets, and what a sender sends.

A live daphne (one worker) in a network namespace, a Chromium next to it, and a second
Chromium in another namespace behind a shaped link (tests/web/shaped_call.py: a TUN link with a
rate, a bounded queue, delay and random loss per direction; bots/shaped_link.py). Ada sends her
camera (VP8, three simulcast layers) and microphone; Bob receives them with Ada's tile enlarged
(he asks for the top layer, so only the bandwidth limits what he gets)::

    .venv/bin/python -m bench.quality [--quick] [--settle 12] [--seconds 15] [--json]

Downlink rows (Bob behind the link, one profile each, then the link is clean again): after
``--settle`` seconds, over ``--seconds``: ``video kbit/s`` received, the simulcast ``layer``
the worker forwards (most frequent, from the consumer's stats; min-max in brackets),
``height`` and ``fps`` decoded, ``freezes`` (count and seconds, Chromium's definition: a frame
interval above max(3 × mean, mean + 150 ms)), ``audio concealed %`` (played-out samples the
decoder had to make up, silence not counted), ``audio lost`` (packets), and ``back to top s``:
seconds from lifting the shaping to the top layer again.

Uplink rows (Ada behind the link, Bob near the server): what Ada's browser sends per simulcast
layer (``r0/r1/r2 kbit/s``), its ``limit`` reason (``bandwidth`` when its own estimate holds
it back) and ``estimate kbit/s`` (``availableOutgoingBitrate``).

Dynacast row: Ada's camera send rate while Bob watches a thumbnail (his tile asks for layer 1,
so the top layer is switched off) against an enlarged tile.

Needs root (namespaces, TUN), Debian's Chromium and Playwright; takes a bench lock
(``/tmp/conference-bench.lock``) so no other benchmark runs meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import format_table, load_average, print_json  # noqa: E402
from bots.shaped_link import CLEAN, LinkProfile  # noqa: E402
from tests.web.livesite import (  # noqa: E402
    CHROMIUM_ARGS,
    build_static,
    chromium_executable,
    open_call,
    peer_id,
    seed_call,
    wait_playing,
)
from tests.web.shaped_call import (  # noqa: E402
    RemoteView,
    ShapedSite,
    drop_client_netns,
    launch_far_browser,
    make_link,
    received,
    sent,
    wait_for,
)

__all__ = ["DOWNLINKS", "UPLINKS", "main", "summarize_window"]

DOWNLINKS: dict[str, LinkProfile] = {
    "clean": CLEAN,
    "2 Mbit/s, 40 ms, 0.5 %": LinkProfile(rate_kbps=2000, delay_ms=40, loss=0.005),
    "800 kbit/s, 100 ms, 1 %": LinkProfile(rate_kbps=800, delay_ms=100, loss=0.01),
    "400 kbit/s, 150 ms, 3 %": LinkProfile(rate_kbps=400, delay_ms=150, loss=0.03),
    "250 kbit/s, 200 ms, 5 %": LinkProfile(rate_kbps=250, delay_ms=200, loss=0.05),
}
UPLINKS: dict[str, LinkProfile] = {
    "clean": CLEAN,
    "800 kbit/s, 100 ms, 1 %": LinkProfile(rate_kbps=800, delay_ms=100, loss=0.01),
    "400 kbit/s, 150 ms, 3 %": LinkProfile(rate_kbps=400, delay_ms=150, loss=0.03),
}
TOP = 2
AUDIO_RATE = 48000
LOCK = "/tmp/conference-bench.lock"


def summarize_window(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One downlink row from the receiver's samples (``tests.web.shaped_call.received``),
    one a second: rates over the window, the layers seen, freezes and audio concealment."""
    first, last = samples[0], samples[-1]
    seconds = max(1e-9, last["at"] - first["at"])
    video0, video1 = first["video"] or {}, last["video"] or {}
    audio0, audio1 = first["audio"] or {}, last["audio"] or {}

    def delta(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
        return float(b.get(key, 0) or 0) - float(a.get(key, 0) or 0)

    layers = [s["layer"] for s in samples if s["layer"] is not None]
    played = delta(audio0, audio1, "totalSamplesReceived")
    made_up = delta(audio0, audio1, "concealedSamples") - delta(
        audio0, audio1, "silentConcealedSamples")
    heights = [s["video"].get("frameHeight") for s in samples if s["video"]]
    return {
        "video_kbps": round(delta(video0, video1, "bytesReceived") * 8 / 1000 / seconds),
        "layer": Counter(layers).most_common(1)[0][0] if layers else None,
        "layer_min": min(layers) if layers else None,
        "layer_max": max(layers) if layers else None,
        "none_seconds": sum(1 for s in samples[1:] if s["layer"] is None),
        "height": int(statistics.median([h for h in heights if h])) if any(heights) else 0,
        "fps": round(delta(video0, video1, "framesDecoded") / seconds, 1),
        "freezes": int(delta(video0, video1, "freezeCount")),
        "freeze_s": round(delta(video0, video1, "totalFreezesDuration"), 2),
        "audio_concealed_pct": round(100 * made_up / played, 2) if played else None,
        "audio_lost": int(delta(audio0, audio1, "packetsLost")),
        "audio_played_s": round(played / AUDIO_RATE, 1),
        "seconds": round(seconds, 1),
    }


def summarize_uplink(before: dict[str, Any], after: dict[str, Any], seconds: float
                     ) -> dict[str, Any]:
    """One uplink row: per-layer send rates, the limitation reason, the send estimate."""
    rates = {}
    for old, new in zip(before["camera"], after["camera"], strict=False):
        rid = str(new.get("rid"))
        rates[rid] = round((new.get("bytesSent", 0) - old.get("bytesSent", 0)) * 8 / 1000
                           / seconds)
    reasons = Counter(str(s.get("qualityLimitationReason")) for s in after["camera"]
                      if s.get("active", True))
    estimate = (after.get("send") or {}).get("availableOutgoingBitrate")
    return {"rates": rates, "limit": reasons.most_common(1)[0][0] if reasons else None,
            "heights": {str(s.get("rid")): s.get("frameHeight") for s in after["camera"]},
            "estimate_kbps": round(estimate / 1000) if estimate else None}


async def sample_window(page: Any, peer: str, seconds: float) -> list[dict[str, Any]]:
    """The receiver's stats once a second for ``seconds``."""
    samples = []
    end = time.monotonic() + seconds
    while True:
        sample = await received(page, peer)
        sample["at"] = time.monotonic()
        samples.append(sample)
        if sample["at"] >= end:
            return samples
        await asyncio.sleep(1)


async def downlink_rows(site: ShapedSite, near: Any, far: Any, args: Any
                        ) -> list[dict[str, Any]]:
    """Bob (far, behind the link) watches Ada (near) with her tile enlarged, per profile."""
    link = site.link
    ids = seed_call(site, "Quality bench (downlink)")
    ada = await open_call(near, site, "ada", ids["meeting"])
    bob = await open_call(far, RemoteView(site), "bob", ids["meeting"], camera=False)
    ada_peer = await peer_id(ada)
    await wait_playing(bob, ada_peer, "webcam", "video")
    await bob.click(f'.tile[data-peer-id="{ada_peer}"] [data-tile-action="pin"]')
    rows = []
    for name, profile in args.downlinks.items():
        await wait_for(lambda: received(bob, ada_peer), lambda r: r["layer"] == TOP,
                       timeout=60, every=1, what="top layer before the profile")
        link.shape(down=profile)
        await asyncio.sleep(args.settle)
        row = {"profile": name, **summarize_window(
            await sample_window(bob, ada_peer, args.seconds))}
        link.shape()
        lifted = time.monotonic()
        try:
            await wait_for(lambda: received(bob, ada_peer), lambda r: r["layer"] == TOP,
                           timeout=60, every=0.5, what="top layer after the profile")
            row["back_to_top_s"] = round(time.monotonic() - lifted, 1)
        except AssertionError:
            row["back_to_top_s"] = None
        rows.append(row)
        print(f"  downlink {name}: {row}", file=sys.stderr)
    await ada.context.close()
    await bob.context.close()
    return rows


async def uplink_and_dynacast_rows(site: ShapedSite, near: Any, far: Any, args: Any
                                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ada (far, behind the link) sends; Bob (near) watches. Dynacast first, on a clean link:
    Bob's thumbnail, then his enlarged tile; then Ada's uplink per profile."""
    link = site.link
    ids = seed_call(site, "Quality bench (uplink)")
    ada = await open_call(far, RemoteView(site), "ada", ids["meeting"])
    bob = await open_call(near, site, "bob", ids["meeting"], camera=False)
    ada_peer = await peer_id(ada)
    await wait_playing(bob, ada_peer, "webcam", "video")

    async def send_rate(seconds: float) -> dict[str, Any]:
        before = await sent(ada)
        await asyncio.sleep(seconds)
        return summarize_uplink(before, await sent(ada), seconds)

    await wait_for(lambda: sent(ada), lambda s: TOP - 1 in s["told"].values(), timeout=30,
                   what="dynacast lowering")
    await asyncio.sleep(2)
    thumbnails = await send_rate(args.seconds / 2)
    await bob.click(f'.tile[data-peer-id="{ada_peer}"] [data-tile-action="pin"]')
    await wait_for(lambda: sent(ada), lambda s: TOP in s["told"].values(), timeout=30,
                   what="dynacast raising")
    await asyncio.sleep(args.settle)
    enlarged = await send_rate(args.seconds / 2)
    dynacast = {"thumbnail": thumbnails, "enlarged": enlarged}
    print(f"  dynacast: {dynacast}", file=sys.stderr)
    rows = []
    for name, profile in args.uplinks.items():
        link.shape(up=profile)
        await asyncio.sleep(args.settle)
        row = {"profile": name, **await send_rate(args.seconds)}
        rows.append(row)
        print(f"  uplink {name}: {row}", file=sys.stderr)
        link.shape()
        await asyncio.sleep(args.settle / 2)
    await ada.context.close()
    await bob.context.close()
    return rows, dynacast


async def run(args: Any) -> dict[str, Any]:
    """Start the link and the site, run both halves, clean up."""
    from playwright.async_api import async_playwright

    build_static()
    link = make_link().start()
    site = ShapedSite(link)
    try:
        site.start()
        with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
            async with async_playwright() as playwright:
                near = await playwright.chromium.launch(
                    executable_path=chromium_executable(Path(tmp)), args=CHROMIUM_ARGS,
                    headless=True)
                far = await launch_far_browser(playwright, Path(tmp), site)
                try:
                    down = await downlink_rows(site, near, far, args)
                    up, dynacast = await uplink_and_dynacast_rows(site, near, far, args)
                finally:
                    await near.close()
                    await far.close()
    finally:
        site.cleanup()
        link.close()
        drop_client_netns()
    return {"downlink": down, "uplink": up, "dynacast": dynacast, "load": load_average()}


def print_tables(result: dict[str, Any]) -> None:
    """The three tables, as bench/README.md shows them."""
    def layer(row: dict[str, Any]) -> str:
        if row["layer"] is None:
            return "none"
        return f"{row['layer']} ({row['layer_min']}-{row['layer_max']})"

    print(format_table(
        ["downlink", "video kbit/s", "layer", "height", "fps", "freezes (s)",
         "audio concealed %", "audio lost", "back to top s"],
        [[r["profile"], r["video_kbps"], layer(r), r["height"], r["fps"],
          f"{r['freezes']} ({r['freeze_s']})", r["audio_concealed_pct"], r["audio_lost"],
          r["back_to_top_s"]] for r in result["downlink"]]))
    print()
    print(format_table(
        ["uplink", "r0/r1/r2 kbit/s", "heights", "limit", "estimate kbit/s"],
        [[r["profile"], "/".join(str(v) for v in r["rates"].values()),
          "/".join(str(v) for v in r["heights"].values()), r["limit"], r["estimate_kbps"]]
         for r in result["uplink"]]))
    print()
    dyn = result["dynacast"]
    print(format_table(
        ["receiver's tile", "r0/r1/r2 kbit/s sent", "total kbit/s"],
        [[name, "/".join(str(v) for v in dyn[name]["rates"].values()),
          sum(dyn[name]["rates"].values())] for name in ("thumbnail", "enlarged")]))
    print(f"\nload average: {result['load']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="two downlink and two uplink profiles, short windows")
    parser.add_argument("--settle", type=float, default=12.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.downlinks, args.uplinks = dict(DOWNLINKS), dict(UPLINKS)
    if args.quick:
        keep = ("clean", "400 kbit/s, 150 ms, 3 %")
        args.downlinks = {k: v for k, v in DOWNLINKS.items() if k in keep}
        args.uplinks = {k: v for k, v in UPLINKS.items() if k in keep}
        args.settle, args.seconds = 6.0, 6.0
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.redirect_stdout(sys.stderr):  # the pages' console lines
            result = asyncio.run(run(args))
    if args.json:
        print_json(result)
    else:
        print_tables(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
