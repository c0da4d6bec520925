"""bots.join_trace's arithmetic and wrappers, in process (the live trace of a daphne is
tests/bench/test_bench_quick.py's ``--trace-server`` test)."""

from __future__ import annotations

import asyncio
import json
import signal
from types import SimpleNamespace
from typing import Any

from bots import join_trace
from bots.join_trace import _Trace, _wrap_async, _wrap_batch, step_table


def test_the_table_gives_each_steps_spread_the_marks_and_the_batches() -> None:
    """Two sockets: each step's p50 / p90 / max over them, the marks from the first socket's
    arrival, the batches from the same zero; events of no socket (batches) are not sockets."""
    events: list[Any] = []
    for key, base in (("a:1", 100.0), ("b:2", 110.0)):
        for offset, kind in ((0, "auth_in"), (5, "auth_out"), (5, "connect"),
                             (7, "subscribe_in"), (7, "slot_in"), (8, "slot_out"),
                             (9, "subscribe_out"), (10, "join_in"),
                             (30 if key == "a:1" else 50, "join_out"),
                             (30 if key == "a:1" else 50, "state")):
            events.append((base + offset, kind, key, {}))
        events.append((base + 6, "auth_out", key, {}))  # a later repeat: the first counts
    events.append((108.0, "slot_batch", None, {"start": 107.0, "size": 2, "cpu_ms": None}))
    events.append((140.0, "join_batch", None, {"start": 111.0, "size": 2, "cpu_ms": 4.5}))
    steps, batches = step_table(events)
    rows = {name: (count, spread) for name, count, spread in steps}
    assert rows["token lookup"] == (2, "5.0 / 5.0 / 5.0")
    assert rows["the join's database trip"] == (2, "40.0 / 40.0 / 40.0")
    assert rows["at join_out"] == (2, "60.0 / 60.0 / 60.0")
    assert rows["at auth_in"] == (2, "10.0 / 10.0 / 10.0")
    assert rows["beside it, on a cluster: the socket count"] == (2, "1.0 / 1.0 / 1.0")
    assert rows["at slot_out"] == (2, "18.0 / 18.0 / 18.0")
    assert rows["rtc:join received → replied"] == (0, "-")
    assert batches == [["slot_batch", 7.0, 8.0, 2, None], ["join_batch", 11.0, 40.0, 2, 4.5]]


def test_the_wrappers_mark_each_call_and_the_signals_reset_and_write(tmp_path) -> None:
    """An async step marks its start and end under its socket's key, even when it raises; a
    batch notes its size and thread; SIGUSR1-style reset forgets, write saves JSON."""
    trace = _Trace()

    async def step(flow: Any, fail: bool = False) -> str:
        if fail:
            raise RuntimeError("refused")
        return "done"

    async def batch_owner_run() -> None:
        owner = SimpleNamespace(step=step, run=lambda items: [i * 2 for i in items])
        _wrap_async(owner, "step", lambda flow, *_: join_trace._key(flow.scope), trace,
                    "join_in", "join_out")
        _wrap_batch(owner, "run", trace, "join_batch")
        flow = SimpleNamespace(scope={"client": ("127.0.0.1", 5000)})
        assert await owner.step(flow) == "done"
        try:
            await owner.step(flow, True)
        except RuntimeError:
            pass
        assert owner.run([1, 2, 3]) == [2, 4, 6]
        quiet = SimpleNamespace(step=step)  # marks only the calls ``when`` picks
        _wrap_async(quiet, "step", None, trace, "state", None,
                    when=lambda flow, fail=False: fail)
        assert await quiet.step(flow) == "done"

    asyncio.run(batch_owner_run())
    kinds = [(kind, key) for _, kind, key, _ in trace.events]
    assert kinds == [("join_in", "127.0.0.1:5000"), ("join_out", "127.0.0.1:5000"),
                     ("join_in", "127.0.0.1:5000"), ("join_out", "127.0.0.1:5000"),
                     ("join_batch", None)]
    batch = trace.events[-1][3]
    assert batch["size"] == 3 and batch["thread"] == "MainThread" and batch["cpu_ms"] >= 0
    path = tmp_path / "trace.json"
    trace.write(str(path))
    assert len(json.loads(path.read_text())) == 5
    trace.reset(signal.SIGUSR1, None)
    assert trace.events == []
    assert join_trace._key({}) == "?:0"


def test_an_async_batch_is_noted_with_its_size_and_its_outcomes_kept() -> None:
    """A `Batches` run on the loop (the cluster's socket counts): the batch noted once with
    its size and wall time and no CPU of its own, its callers' outcomes unchanged."""
    from conference.batching import Batches

    trace = _Trace()

    async def run(items: list[int]) -> list[int | Exception]:
        await asyncio.sleep(0.01)
        return [item * 10 if item else ValueError("zero") for item in items]

    async def submit_three() -> list[Any]:
        batches: Batches[int, int] = Batches(run, max_size=10)
        join_trace._wrap_async_batch(batches, trace, "slot_batch")
        return await asyncio.gather(*(batches.submit(i) for i in (1, 2, 0)),
                                    return_exceptions=True)

    first, second, third = asyncio.run(submit_three())
    assert (first, second, type(third)) == (10, 20, ValueError)
    noted = [(kind, extra["size"], extra["cpu_ms"]) for _, kind, _, extra in trace.events]
    assert noted == [("slot_batch", 3, None)]  # submitted in one turn: one batch
    at, _, _, extra = trace.events[0]
    assert at - extra["start"] >= 9  # the batch's own wait, in ms
