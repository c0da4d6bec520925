"""The channel's writes under a burst: a request goes out at once when no other request waits
for its reply; the others written meanwhile go together in one write at the start of the next
loop turn (one wake-up of the worker instead of one per message), against the real worker."""

from __future__ import annotations

import asyncio

from mediasoup_ctl.channel import Channel

MEDIA_CODECS = [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2}]


def _count_writes(channel: Channel, monkeypatch) -> list[bytes]:
    """Record each write to the worker's pipe (``_send_now`` does them all)."""
    writes: list[bytes] = []
    real = channel._send_now

    def write(data: bytes) -> None:
        writes.append(bytes(data))
        real(data)

    monkeypatch.setattr(channel, "_send_now", write)
    return writes


async def test_requests_of_one_turn_share_a_write_and_each_gets_its_reply(worker, monkeypatch):
    """Twenty dumps sent in one loop turn: two pipe writes (the first at once, the other 19
    together), every reply reaches its own request, and nothing stays corked."""
    routers = [await worker.create_router(media_codecs=MEDIA_CODECS) for _ in range(4)]
    writes = _count_writes(worker.channel, monkeypatch)
    await asyncio.sleep(0)  # a fresh turn: nothing corked from the set-up
    dumps = await asyncio.gather(*(r.dump() for r in routers for _ in range(5)))
    assert [d["id"] for d in dumps] == [r.id for r in routers for _ in range(5)]
    assert len(writes) == 2, [len(w) for w in writes]
    assert worker.channel._corked is None and not worker.channel._pending
    for router in routers:
        router.close()


async def test_a_lone_request_is_written_at_once(worker, monkeypatch):
    """One request at a time (the control plane's case): each is written in the turn that
    sends it, before the caller awaits its reply."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    writes = _count_writes(worker.channel, monkeypatch)
    for expected in range(1, 4):
        await asyncio.sleep(0)
        task = asyncio.ensure_future(router.dump())
        await asyncio.sleep(0)  # the task runs up to its await on the reply
        assert len(writes) == expected
        assert (await task)["id"] == router.id
    router.close()


async def test_a_close_written_in_the_same_turn_as_others_still_reaches_the_worker(worker):
    """Routers closed in the turn after a request (their close requests corked behind it) are
    closed in the worker: its dump no longer lists them."""
    routers = [await worker.create_router(media_codecs=MEDIA_CODECS) for _ in range(3)]
    await asyncio.sleep(0)
    pending = asyncio.ensure_future(worker.dump())
    await asyncio.sleep(0)  # the dump is written: the closes below are corked
    for router in routers:
        router.close()
    await pending
    dump = await worker.dump()
    assert not {r.id for r in routers} & set(dump["routerIds"])


async def test_a_request_after_an_unanswered_close_is_written_at_once(worker, monkeypatch):
    """A close (nobody awaits its reply) and then a request, as a checked close goes: both are
    written in the turn that sends them (the request is not corked behind the close), the
    request gets its reply, and the close's reply leaves nothing pending."""
    keep = await worker.create_router(media_codecs=MEDIA_CODECS)
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    writes = _count_writes(worker.channel, monkeypatch)
    await asyncio.sleep(0)
    router.close()
    task = asyncio.ensure_future(keep.dump())
    await asyncio.sleep(0)  # the task runs up to its await on the reply
    assert len(writes) == 2 and worker.channel._corked is None
    assert (await task)["id"] == keep.id
    assert router.id not in (await worker.dump())["routerIds"]
    assert not worker.channel._pending and worker.channel._unawaited == 0
    keep.close()
