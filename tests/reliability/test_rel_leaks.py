"""No leaks: hundreds of join/produce/consume/leave cycles through the real consumer and worker
leave nothing behind, in the worker or in Python.

Each cycle: the host joins, creates and connects a send transport and produces audio; the
member joins, creates a recv transport, consumes and resumes it; both leave (the sockets stay,
as a client that leaves the call but not the meeting). After the warm-up, the number of live
objects of every ``mediasoup_ctl`` and ``rtc.services`` class is the baseline; after the
measured cycles it must be the same, and the worker's dump must show no router. Python memory
is checked with tracemalloc on the project's own code (allocations still alive that were made
in ``rtc/`` or ``meetings/`` during the measured cycles), not with an RSS threshold, which the
allocator makes noisy. The thousands-of-cycles version is ``bench/soak.py``.
"""

from __future__ import annotations

import gc
import logging
import tracemalloc
from collections import Counter
from typing import Any

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

WARM_UP = 20
CYCLES = 250
PROJECT_FILES = ("/rtc/", "/meetings/", "/conference/")
RESOURCE_CLASSES = (".Router", ".WebRtcTransport", ".Producer", ".Consumer",
                    ".ActiveSpeakerObserver", ".AudioLevelObserver", ".Peer", ".Room",
                    ".DataProducer", ".DataConsumer", ".PipeTransport", ".PlainTransport")


def _live_objects() -> Counter[str]:
    """Live instances per class of the call layer (mediasoup_ctl, rtc.services)."""
    gc.collect()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        module = getattr(type(obj), "__module__", "")
        if isinstance(module, str) and module.startswith(("mediasoup_ctl", "rtc.services")):
            counts[f"{module}.{type(obj).__qualname__}"] += 1
    return counts


async def _cycle(host: Any, member: Any) -> None:
    await host.join("Hazel")
    send = await host.transport("send")
    producer = await host.produce(send, "audio")
    await member.join("Milo")
    recv = await member.transport("recv", connect=False)
    consumed = await member.consume(recv, producer)
    await member.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    await member.ok("rtc:leave")
    await host.ok("rtc:leave")
    host.events.clear()
    member.events.clear()


async def test_hundreds_of_call_cycles_leave_nothing_behind(rtc_service, rtc_client, meeting,
                                                            host_user, member_user, settings):
    """250 cycles after a warm-up: no call's router in the worker (its idle spares only), the
    room model empty, not one router, transport, producer, consumer, observer, peer or room
    object alive more than before (and the call layer's other objects within a few), and
    under 256 KiB of the project's own allocations still alive from the measured cycles."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "REQUESTS_PER_SECOND": 100_000,
                           "REQUEST_BURST": 100_000}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    for _ in range(WARM_UP):
        await _cycle(host, member)
    worker = rtc_service.mediasoup.workers[0]
    await rtc_service.mediasoup.wait_idle()  # the spare router taken by the last call, replaced
    baseline = _live_objects()
    # No log records meanwhile: pytest's log capture keeps every one (and its arguments).
    logging.disable(logging.CRITICAL)
    tracemalloc.start(1)
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(CYCLES):
            await _cycle(host, member)
        await rtc_service.mediasoup.wait_idle()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        logging.disable(logging.NOTSET)

    assert await rtc_service.mediasoup.call_router_ids(worker) == []
    assert rtc_service.counts() == {"rooms": 0, "peers": 0, "transports": 0, "producers": 0,
                                    "consumers": 0, "workers": 1}
    assert all(rtc_service.mediasoup.reserve.holds(rid) for rid in worker.routers)  # spares
    grown = _live_objects() - baseline
    resources = {name: n for name, n in grown.items() if name.endswith(RESOURCE_CLASSES)}
    assert not resources, f"media objects left after {CYCLES} cycles: {resources}"
    # Caches and the message objects of the last request may differ by a few, never by a
    # number that grows with the cycles.
    assert sum(grown.values()) <= 10, f"call-layer objects grew: {grown}"

    filters = [tracemalloc.Filter(True, f"*{part}*") for part in PROJECT_FILES]
    # The channel's request templates are a cache bounded by design (4,096, then cleared).
    bounded = [tracemalloc.Filter(False, "*mediasoup_ctl/channel_messages.py")]
    after, before = after.filter_traces(bounded), before.filter_traces(bounded)
    growth = after.filter_traces(filters).compare_to(before.filter_traces(filters), "filename")
    grown = sum(stat.size_diff for stat in growth if stat.size_diff > 0)
    top = [str(stat) for stat in growth[:5]]
    assert grown < 256 * 1024, f"{grown} bytes of project allocations kept: {top}"
