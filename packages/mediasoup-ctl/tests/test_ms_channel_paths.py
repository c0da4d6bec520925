"""The channel's fast paths against the real worker: cached envelopes and direct reply reads.

Body-less requests reuse one envelope per (method, handler id) with the request id patched
in; replies are read without the generated accessors. These tests show that replies still
reach the request that asked, that the envelope cache stays bounded, and that refusals carry
the worker's reason.
"""

from __future__ import annotations

import asyncio

import pytest
from FBS.Request.Method import Method
from FBS.Router.DumpResponse import DumpResponse

from mediasoup_ctl import InvalidParameterError, WorkerError, channel_messages
from mediasoup_ctl.channel import Reply, body_of, body_table

MEDIA_CODECS = [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2}]


async def test_concurrent_bodyless_requests_each_get_their_own_reply(worker):
    """Dumps of many routers sent at once (same envelope but the id) answer each router."""
    routers = [await worker.create_router(media_codecs=MEDIA_CODECS) for _ in range(5)]
    dumps = await asyncio.gather(*(r.dump() for r in routers for _ in range(4)))
    assert [d["id"] for d in dumps] == [r.id for r in routers for _ in range(4)]
    usages = await asyncio.gather(*(worker.get_resource_usage() for _ in range(10)))
    assert all(u["ru_maxrss"] > 0 for u in usages)
    assert not worker.channel._pending
    for router in routers:
        router.close()


async def test_reply_body_reads_the_same_both_ways(worker):
    """``body_of`` (generated class) and ``body_table`` (fast reader) see one reply body."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    reply = await worker.channel.request(Method.ROUTER_DUMP, router.id)
    assert isinstance(reply, Reply)
    assert body_of(reply, DumpResponse).Id().decode() == router.id
    table = body_table(reply)
    assert table is not None and table.pos == body_of(reply, DumpResponse)._tab.Pos
    # The generated accessors still work on a reply (their table is made on first use).
    assert reply.Accepted() and reply.Id() > 0 and reply.Body().Pos == table.pos
    reply.Init(reply.table.buf, reply.table.pos)
    assert reply.Accepted()
    router.close()


async def test_envelope_cache_is_bounded(worker, monkeypatch):
    """Handler ids come and go with objects: the envelope cache is reset when it is full."""
    monkeypatch.setattr(channel_messages, "_TEMPLATES_MAX", 4)
    routers = [await worker.create_router(media_codecs=MEDIA_CODECS) for _ in range(6)]
    for router in routers:
        assert (await router.dump())["id"] == router.id
        assert len(worker.channel._messages.templates) <= 4
    for router in routers:
        router.close()


async def test_refusals_and_oversized_envelopes(worker):
    """A refused body-less request raises with the worker's reason; a huge one never leaves."""
    with pytest.raises(WorkerError, match="ROUTER_DUMP"):
        await worker.channel.request(Method.ROUTER_DUMP, "no-such-router")
    with pytest.raises(InvalidParameterError, match="too big"):
        await worker.channel.request(Method.ROUTER_DUMP, "x" * (5 << 20))
    assert not worker.channel._pending
    assert (await worker.dump())["pid"] == worker.pid


async def test_each_request_keeps_its_own_deadline(worker):
    """With one deadline timer for all requests, a short timeout still fires on time while a
    longer one sent before it keeps waiting, and then gets its reply."""
    import os
    import signal
    import time

    from mediasoup_ctl import RequestTimeoutError

    os.kill(worker.pid, signal.SIGSTOP)
    try:
        slow = asyncio.ensure_future(worker.channel.request(Method.WORKER_DUMP, timeout=10))
        await asyncio.sleep(0)
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await worker.channel.request(Method.WORKER_DUMP, timeout=0.2)
        assert 0.15 < time.monotonic() - started < 2
        assert not slow.done()
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    reply = await asyncio.wait_for(slow, 5)
    assert isinstance(reply, Reply)
    assert not worker.channel._pending


async def test_reader_ignores_a_spurious_wakeup_and_reads_replies_whole(worker):
    """The channel reads the pipe itself: a wake-up with nothing to read changes nothing, and
    a reply larger than one read (a dump of many routers) still arrives whole."""
    channel = worker.channel
    channel._read_ready()  # nothing in the pipe: EAGAIN, ignored
    assert not channel.closed
    routers = [await worker.create_router(media_codecs=MEDIA_CODECS) for _ in range(40)]
    original = channel._read_buffer
    channel._read_buffer = bytearray(64)  # force replies across many reads
    channel._read_view = memoryview(channel._read_buffer)
    try:
        dump = await worker.dump()
    finally:
        channel._read_buffer = original
        channel._read_view = memoryview(original)
    assert sorted(dump["routerIds"]) == sorted(r.id for r in routers)
    for router in routers:
        router.close()


async def test_a_failing_read_closes_the_channel_and_fails_what_waits(worker):
    """A read error on the worker's pipe (here: its fd swapped for a directory's, which
    readv refuses) is a lost channel: pending requests fail at once, the fd is closed."""
    import os
    import signal

    from mediasoup_ctl import ChannelClosedError

    channel = worker.channel
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        pending = asyncio.ensure_future(channel.request(Method.WORKER_DUMP))
        await asyncio.sleep(0)
        read_fd = channel._read_fd
        channel._loop.remove_reader(read_fd)
        os.close(read_fd)
        channel._read_fd = directory = os.open("/", os.O_RDONLY)  # readv: EISDIR
        channel._read_ready()
        assert channel.closed and channel._read_fd is None
        with pytest.raises(OSError):
            os.fstat(directory)  # closed with the channel
        with pytest.raises(ChannelClosedError):
            await pending
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    worker.close()
