"""A client's network drops silently (a dead link: packets lost both ways, nothing closed).

Bob's bot sits in a network namespace of its own, behind a link to the server's namespace;
Ada's bot is next to the server. The test kills the link (no FIN, no RST: what a pulled cable
or a train tunnel does), then brings it back. What it must do: the server notices the dead
socket by itself within a bounded time (daphne pings an idle socket and drops it when no pong
comes: ``--ping-interval``/``--ping-timeout``, here 1 s and 2 s, 10 s and 10 s in production);
Bob's peer then waits for the reconnect grace. Back within the grace: Bob's client (which
notices the drop by its own pings) resumes the same peer over the same transports and media
flows both ways again, the others having seen nothing. Back after it: the peer was removed
(Ada's consumers of it closed, ``rtc:peerLeft`` ``disconnected``, Bob's leave written, nothing
of his left on the server), and Bob's client joins afresh as a new peer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bots.peer import Bot
from tests.faults.conftest import LINK_GRACE_SECONDS, LinkedSite
from tests.support.waiting import eventually

pytestmark = [pytest.mark.timeout(180)]

SOCKET = {"ping_interval": 1.0, "ping_timeout": 2.0, "timeout": 4.0}
"""The far client's socket: it notices a dead link within ~3 s, and retries quickly."""
DETECT_BOUND = 15.0
"""Seconds the server may take to notice the dead socket: 1 + 2 (ping, pong) and daphne's 2 s
check period make 5; the rest is room for this shared, loaded machine."""


async def _bot(site: LinkedSite, meeting: str, name: str, *, far: bool) -> Bot:
    """A joined, publishing bot of ``name`` on the near or far loop."""
    url, origin = site.ws_url(meeting, name, far=far)
    loop = site.far if far else site.near

    async def start() -> Bot:
        bot = Bot(url, origin, name=name, socket=SOCKET if far else None)
        await bot.connect()
        await bot.join()
        await bot.publish()
        if far:
            bot.keep_connected(max_backoff=1.0)
        return bot

    return await loop.run(start())


async def _stats(site: LinkedSite, ops_meeting: str) -> dict[str, Any]:
    """rtc:serverStats through a staff socket next to the server."""
    from bots.signaling import SignalingClient

    url, origin = site.ws_url(ops_meeting, "ops")

    async def ask() -> dict[str, Any]:
        ops = SignalingClient(url, origin=origin, name="ops")
        await ops.connect()
        try:
            return await ops.request("rtc:serverStats", {})
        finally:
            await ops.close()

    return await site.near.run(ask())


async def _log_line(site: LinkedSite, *parts: str, timeout: float) -> float:
    """Wait until a line of the server's log holds every one of ``parts``; when (monotonic)."""
    def logged() -> bool:
        log = site.server.log_path.read_text(errors="replace")
        return any(all(part in line for part in parts) for line in log.splitlines())

    await eventually(logged, timeout=timeout, every=0.1, what=f"a log line with {parts}")
    return time.monotonic()


async def _ada_near_bob_far(site: LinkedSite) -> tuple[dict[str, Any], Bot, Bot]:
    """A fresh meeting (``site.meeting()``'s ids) with Ada beside the server and Bob behind
    the link, both in the call."""
    rooms = site.meeting()
    ada = await _bot(site, rooms["meeting"], "ada", far=False)
    bob = await _bot(site, rooms["meeting"], "bob", far=True)
    return rooms, ada, bob


def _consumers_closed(bot: Bot) -> list[dict[str, Any]]:
    return [event for event in bot.events if event["type"] == "rtc:consumerClosed"]


async def _close(site: LinkedSite, *bots: tuple[Bot, bool]) -> None:
    """Leave (so the next test starts on an empty server) and close."""
    for bot, far in bots:
        loop = site.far if far else site.near
        await loop.run(bot.leave_quietly())
        await loop.run(bot.close())


async def test_a_link_back_within_the_grace_resumes_the_same_peer_and_media(
    linked_site: LinkedSite,
) -> None:
    """Bob's link dies until the server has dropped his socket, then comes back: Bob's client
    resumes the same peer with its transports kept (``kept``), Ada and Bob decode each other
    again, Ada never heard rtc:peerLeft, nothing was added or lost on the server, and Bob's
    attendance row is untouched (no leave written)."""
    site = linked_site
    rooms, ada, bob = await _ada_near_bob_far(site)
    meeting = rooms["meeting"]
    try:
        await site.near.run(ada.wait_frames(bob.peer_id))
        await site.far.run(bob.wait_frames(ada.peer_id))
        peer_id = bob.peer_id
        before = await _stats(site, rooms["ops"])
        rows_before = await asyncio.to_thread(site.attendance, meeting)

        site.cut()
        cut_at = time.monotonic()
        detected = await _log_line(site, "peer detached", peer_id, timeout=DETECT_BOUND)
        site.restore()
        print(f"dead socket noticed by the server after {detected - cut_at:.1f}s")
        await eventually(lambda: bob.resumes, timeout=LINK_GRACE_SECONDS, what="Bob resumed")
        back = time.monotonic()
        print(f"link dead {back - cut_at:.1f}s in all; Bob back: {bob.resumes}")
        assert bob.resumes == ["kept"] and bob.peer_id == peer_id
        assert bob.socket_reconnects == 1
        await site.near.run(ada.wait_frames(peer_id, audio=5, video=0, timeout=30))
        print(f"Ada hears Bob {time.monotonic() - cut_at:.1f}s after the cut")
        await site.near.run(ada.wait_frames(peer_id, timeout=30))
        await site.far.run(bob.wait_frames(ada.peer_id, timeout=30))
        print(f"media both ways {time.monotonic() - cut_at:.1f}s after the cut")

        assert not [e for e in ada.events if e["type"] == "rtc:peerLeft"], ada.events
        after = await _stats(site, rooms["ops"])
        for key in ("rooms", "peers", "transports", "producers", "consumers"):
            assert after[key] == before[key], (key, before, after)
        rows = await asyncio.to_thread(site.attendance, meeting)
        assert rows["bob"] == rows_before["bob"] and rows["bob"][1] is None, rows
        log = site.server.log_path.read_text(errors="replace")
        assert f"peer resumed [meeting:{meeting}, peer:{peer_id}" in log
    finally:
        await _close(site, (ada, False), (bob, True))


async def test_a_link_dead_longer_than_the_grace_ends_the_peer_then_it_joins_afresh(
    linked_site: LinkedSite,
) -> None:
    """Bob's link dies for longer than the grace: the server drops his socket within the
    bound, and at the grace's end removes his peer: Ada's consumers of Bob are closed, she
    gets rtc:peerLeft (``disconnected``), Bob's leave is written, and the server holds only
    Ada's objects. When the link comes back Bob's client is refused the resume and joins
    afresh as a new peer that Ada hears of and decodes, and the other way round."""
    site = linked_site
    rooms, ada, bob = await _ada_near_bob_far(site)
    meeting = rooms["meeting"]
    try:
        await site.near.run(ada.wait_frames(bob.peer_id))
        peer_id = bob.peer_id

        site.cut()
        cut_at = time.monotonic()
        detected = await _log_line(site, "peer detached", peer_id, timeout=DETECT_BOUND)
        left = await site.near.run(ada.signaling.wait_event(
            "rtc:peerLeft", timeout=LINK_GRACE_SECONDS + 10, peerId=peer_id))
        gone = time.monotonic()
        print(f"server noticed after {detected - cut_at:.1f}s; peer removed after "
              f"{gone - cut_at:.1f}s (grace {LINK_GRACE_SECONDS:g}s)")
        assert left["reason"] == "disconnected"
        assert gone - detected >= LINK_GRACE_SECONDS - 1
        # Bob's audio and video: each consumer's close is its own event, which may reach Ada
        # just after rtc:peerLeft (the worker reports the producers' closes on its own).
        await eventually(lambda: len(_consumers_closed(ada)) == 2, timeout=5,
                         what="Ada told of both her consumers of Bob closing")
        stats = await _stats(site, rooms["ops"])
        assert (stats["peers"], stats["transports"], stats["producers"],
                stats["consumers"]) == (1, 2, 2, 0), stats
        rows = await asyncio.to_thread(site.attendance, meeting)
        assert rows["bob"][1] is not None and rows["ada"][1] is None, rows
        assert not bob.resumes  # Bob's client is still cut off

        site.restore()
        await eventually(lambda: bob.resumes, timeout=20, what="Bob back")
        assert bob.resumes == ["rejoined"] and bob.peer_id not in ("", peer_id)
        await site.near.run(ada.signaling.wait_event("rtc:peerJoined", timeout=10,
                                                     peerId=bob.peer_id))
        await site.near.run(ada.wait_frames(bob.peer_id, timeout=30))
        await site.far.run(bob.wait_frames(ada.peer_id, timeout=30))
        rows = await asyncio.to_thread(site.attendance, meeting)
        assert rows["bob"][1] is None, rows  # present again
        stats = await _stats(site, rooms["ops"])
        assert (stats["peers"], stats["transports"], stats["producers"],
                stats["consumers"]) == (2, 4, 4, 4), stats
    finally:
        await _close(site, (ada, False), (bob, True))
