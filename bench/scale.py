"""Scale curve of the control layer: what each operation costs with K meetings alive on one worker.

For each size K in ``--sizes``, a fresh worker (``mediasoup_ctl.create_worker``) gets K
meetings, built one awaited call at a time: a router each, ``--peers`` peers per meeting, each
peer a send and a recv WebRtcTransport, one Opus producer on its send transport and, on its
recv transport, a paused consumer of every other peer's producer (inputs from
``bench/node/fixtures.json``, as ``bench/control_plane.py``). With all of that alive,
``--iterations`` rounds of the ops below run against meetings picked at random; then every
meeting's router is closed (the cascade takes the rest) and the script checks that nothing is
left, in the worker (its dump) or in Python (registries, the channel's handlers and pending
requests). One row per K::

    .venv/bin/python -m bench.scale [--quick] [--sizes 1,100,500,1000] [--peers 4]
                                    [--iterations 200] [--json]

Ops, p50/p99 in ms (nearest rank, warm-up excluded):

* ``rtt``: one request round trip (``worker.get_resource_usage``);
* ``router_create``, ``router_close_acked``: a fresh router, then its close + a round trip;
* ``transport_create``: a WebRtcTransport in the picked meeting's router;
* ``produce``: an Opus producer on that transport;
* ``consume``: a paused consumer of it on a peer's recv transport of the meeting;
* ``pause_events``: a peer's producer paused, until each of its P-1 consumers emitted
  ``producerpause`` in Python (``resume_events``, the way back, is in ``--json`` only);
* ``consumer_close_acked``, ``producer_close_acked``, ``transport_close_acked``: the three
  new objects closed, each + a round trip (the worker answers it after the close).

A second table: the objects alive (counted in the Python registries, checked against what
was built), the time to build the row, Python's gc-tracked objects per meeting, Python's and
the worker's resident memory after the build (and per meeting above the row's start), full
(generation 2) collections during the build (count, longest pause), one full collection timed
with everything alive (``full gc ms``: the event-loop stall a full collection costs at this
size), full collections during the measured iterations, the time to close every router and
have the worker acknowledge it, and ``left``: objects still registered anywhere after that
(must be 0). Any failed op, miscount or leftover is an error; the script exits 1. With several
sizes, each row runs in its own Python process, so no row inherits another's heap.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mediasoup_ctl import (  # noqa: E402
    Consumer,
    Producer,
    Router,
    WebRtcTransport,
    Worker,
    create_worker,
)

from bench._common import (  # noqa: E402
    REPO,
    Samples,
    format_table,
    load_average,
    print_json,
    proc_sample,
)

__all__ = ["main", "run_row"]


FIXTURES = json.loads((REPO / "bench" / "node" / "fixtures.json").read_text())
MEDIA_CODECS = FIXTURES["mediaCodecs"]
LISTEN_INFOS = FIXTURES["listenInfos"]
AUDIO = FIXTURES["audioRtpParameters"]
NOTIFY_TIMEOUT = 5.0
MIB = 1024 * 1024
ROW_TIMEOUT = 900

OPS = ["rtt", "router_create", "router_close_acked", "transport_create", "produce", "consume",
       "pause_events", "consumer_close_acked", "producer_close_acked", "transport_close_acked"]


@dataclass
class Peer:
    """One participant: its two transports, its producer and who consumes it."""

    send: WebRtcTransport
    recv: WebRtcTransport
    producer: Producer
    audience: list[Consumer] = field(default_factory=list)
    """The consumers of ``producer``, one on each other peer's recv transport."""


@dataclass
class Meeting:
    """A router and its peers."""

    router: Router
    peers: list[Peer]


class GcWatch:
    """Counts Python's full (generation 2) collections and their pauses, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.count = 0
        self.total_ms = 0.0
        self.max_ms = 0.0
        self._start = 0

    def reset(self) -> None:
        """Start counting afresh (a new phase of the row)."""
        self.count, self.total_ms, self.max_ms = 0, 0.0, 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._start = time.perf_counter_ns()
            return
        ms = (time.perf_counter_ns() - self._start) / 1e6
        self.count += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)


async def build_meeting(worker: Worker, peers: int) -> Meeting:
    """A router with ``peers`` peers, each consuming every other peer's producer (paused)."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    members = []
    for _ in range(peers):
        send = await router.create_webrtc_transport(listen_infos=LISTEN_INFOS)
        recv = await router.create_webrtc_transport(listen_infos=LISTEN_INFOS)
        producer = await send.produce(kind="audio", rtp_parameters=AUDIO)
        members.append(Peer(send, recv, producer))
    for peer in members:
        for other in members:
            if other is not peer:
                peer.audience.append(await other.recv.consume(
                    producer_id=peer.producer.id, rtp_capabilities=router.rtp_capabilities,
                    paused=True))
    return Meeting(router, members)


def count_objects(worker: Worker) -> dict[str, int]:
    """Routers, transports, producers and consumers alive, from the Python registries."""
    transports = [t for r in worker.routers.values() for t in r.transports.values()]
    return {
        "routers": len(worker.routers),
        "transports": len(transports),
        "producers": sum(len(t.producers) for t in transports),
        "consumers": sum(len(t.consumers) for t in transports),
    }


async def _timed_close(samples: Samples, op: str, worker: Worker, obj: Any) -> None:
    """``close()`` then a round trip, which the worker answers after it processed the close."""
    start = time.perf_counter_ns()
    obj.close()
    await worker.get_resource_usage()
    samples.add_ns(op, start)


async def _timed_events(samples: Samples, op: str, action: Callable[[], Awaitable[None]],
                        consumers: list[Consumer], event: str) -> None:
    """``action()``, until every one of ``consumers`` emitted ``event``."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    remaining = len(consumers)

    def on_event() -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0 and not done.done():
            done.set_result(None)

    for consumer in consumers:
        consumer.once(event, on_event)
    start = time.perf_counter_ns()
    try:
        await action()
        await asyncio.wait_for(done, NOTIFY_TIMEOUT)
        samples.add_ns(op, start)
    finally:
        for consumer in consumers:
            consumer.off(event, on_event)


async def _iteration(samples: Samples, worker: Worker, meeting: Meeting,
                     rng: random.Random) -> None:
    await samples.timed("rtt", worker.get_resource_usage)
    router = await samples.timed("router_create",
                          lambda: worker.create_router(media_codecs=MEDIA_CODECS))
    await _timed_close(samples, "router_close_acked", worker, router)

    transport = await samples.timed("transport_create", lambda: meeting.router
                             .create_webrtc_transport(listen_infos=LISTEN_INFOS))
    producer = await samples.timed("produce", lambda: transport.produce(
        kind="audio", rtp_parameters=AUDIO))
    viewer = rng.choice(meeting.peers)
    consumer = await samples.timed("consume", lambda: viewer.recv.consume(
        producer_id=producer.id, rtp_capabilities=meeting.router.rtp_capabilities,
        paused=True))

    speaker = rng.choice(meeting.peers)
    await _timed_events(samples, "pause_events", speaker.producer.pause, speaker.audience,
                        "producerpause")
    await _timed_events(samples, "resume_events", speaker.producer.resume, speaker.audience,
                        "producerresume")

    await _timed_close(samples, "consumer_close_acked", worker, consumer)
    await _timed_close(samples, "producer_close_acked", worker, producer)
    await _timed_close(samples, "transport_close_acked", worker, transport)


def _leftovers(worker: Worker, meetings: list[Meeting], dump: dict[str, Any],
               baseline: dict[str, Any]) -> list[str]:
    """What is still registered after every router closed (empty when all is gone)."""
    left = []
    if worker.routers:
        left.append(f"worker.routers: {len(worker.routers)}")
    for meeting in meetings:
        router = meeting.router
        if not router.closed or router.transports:
            left.append(f"router {router.id}: closed={router.closed}, "
                        f"transports={len(router.transports)}")
        for peer in meeting.peers:
            for transport in (peer.send, peer.recv):
                if not transport.closed or transport.producers or transport.consumers:
                    left.append(f"transport {transport.id}: closed={transport.closed}")
            for obj in (peer.producer, *peer.audience):
                if not obj.closed:
                    left.append(f"{type(obj).__name__} {obj.id} open")
    channel = worker.channel
    # The channel's routing tables (private, and the first place a leak would show):
    # only the worker's own handler may remain, and no request may be waiting.
    handlers = [h for h in channel._handlers if h != str(worker.pid)]
    if handlers:
        left.append(f"channel handlers: {len(handlers)}")
    if channel._pending:
        left.append(f"channel pending requests: {len(channel._pending)}")
    if dump["routerIds"]:
        left.append(f"worker routers: {len(dump['routerIds'])}")
    for kind, ids in dump["channelMessageHandlers"].items():
        extra = set(ids) - set(baseline["channelMessageHandlers"][kind])
        if extra:
            left.append(f"worker {kind}: {len(extra)}")
    return left


def _rss_mib(pid: int) -> float:
    return proc_sample(pid).rss / MIB


async def run_row(meetings: int, peers: int, iterations: int, warmup: int,
                  seed: int = 1) -> dict[str, Any]:
    """Build ``meetings`` meetings on a fresh worker, measure the ops, close all, check."""
    rng = random.Random(seed)
    watch = GcWatch()
    gc.callbacks.append(watch)
    worker = await create_worker(log_level="error")
    errors: list[str] = []
    row: dict[str, Any] = {"meetings": meetings, "peers": peers}
    try:
        baseline = await worker.dump()
        py_before, worker_before = _rss_mib(os.getpid()), _rss_mib(worker.pid)
        tracked_before = len(gc.get_objects())
        start = time.perf_counter()
        built = [await build_meeting(worker, peers) for _ in range(meetings)]
        row["build_s"] = round(time.perf_counter() - start, 2)
        row["build_ms_per_meeting"] = round(row["build_s"] * 1000 / max(meetings, 1), 2)
        row["build_gc2"] = watch.count
        row["build_gc2_ms"] = round(watch.total_ms, 1)
        row["build_gc2_max_ms"] = round(watch.max_ms, 1)
        row["python_objects_per_meeting"] = round(
            (len(gc.get_objects()) - tracked_before) / max(meetings, 1))
        row["objects"] = counts = count_objects(worker)
        expected = {"routers": meetings, "transports": 2 * peers * meetings,
                    "producers": peers * meetings, "consumers": peers * (peers - 1) * meetings}
        if counts != expected:
            errors.append(f"registries hold {counts}, built {expected}")
        py_after, worker_after = _rss_mib(os.getpid()), _rss_mib(worker.pid)
        row["python_rss_mib"] = round(py_after, 1)
        row["worker_rss_mib"] = round(worker_after, 1)
        row["python_kib_per_meeting"] = round((py_after - py_before) * 1024 / max(meetings, 1),
                                              1)
        row["worker_kib_per_meeting"] = round(
            (worker_after - worker_before) * 1024 / max(meetings, 1), 1)

        start = time.perf_counter()
        gc.collect()  # one full collection with everything alive: the pause at this size
        row["full_gc_ms"] = round((time.perf_counter() - start) * 1000, 1)

        samples = Samples()
        watch.reset()
        for i in range(warmup + iterations):
            samples.recording = i >= warmup
            if built:
                try:
                    await _iteration(samples, worker, rng.choice(built), rng)
                except Exception as exc:  # counted and reported; the row goes on
                    errors.append(f"iteration {i}: {type(exc).__name__}: {exc}")
        row["ops"] = samples.summary()
        row["measure_gc2"] = watch.count
        row["measure_gc2_max_ms"] = round(watch.max_ms, 1)

        start = time.perf_counter()
        for meeting in built:
            meeting.router.close()
        await worker.get_resource_usage()
        row["close_ms"] = round((time.perf_counter() - start) * 1000, 1)
        left = _leftovers(worker, built, await worker.dump(), baseline)
        row["left"] = left
        errors += [f"left after close: {item}" for item in left]
    except Exception as exc:
        errors.append(f"row failed: {type(exc).__name__}: {exc}")
    finally:
        gc.callbacks.remove(watch)
        worker.close()
        await worker.wait_closed(10)
    row["errors"] = errors
    return row


def _pair(row: dict[str, Any], op: str) -> str:
    summary = row.get("ops", {}).get(op)
    if not summary or not summary.get("n"):
        return "-"
    return f"{_num(summary['p50_ms'])}/{_num(summary['p99_ms'])}"


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def print_tables(rows: list[dict[str, Any]]) -> None:
    """The latency table (p50/p99 ms per op) and the objects/memory/cleanup table."""
    print(format_table(["meetings", *OPS],
                       [[r["meetings"], *(_pair(r, op) for op in OPS)] for r in rows]))
    print()
    keys = ["build_s", "build_ms_per_meeting", "python_objects_per_meeting", "python_rss_mib",
            "python_kib_per_meeting", "worker_rss_mib", "worker_kib_per_meeting", "build_gc2",
            "build_gc2_max_ms", "full_gc_ms", "measure_gc2", "close_ms"]
    print(format_table(
        ["meetings", "routers", "transports", "producers", "consumers", "build s",
         "build ms/mtg", "py objs/mtg", "py RSS MiB", "py KiB/mtg", "worker RSS MiB",
         "worker KiB/mtg", "build gc2", "gc2 max ms", "full gc ms", "measure gc2",
         "close ms", "left"],
        [[r["meetings"],
          *(r.get("objects", {}).get(k) for k in ("routers", "transports", "producers",
                                                  "consumers")),
          *(r.get(k) for k in keys), len(r["left"]) if "left" in r else "-"] for r in rows]))


def run_in_child(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """One row in its own Python process, so no row inherits another's heap or allocator."""
    argv = [sys.executable, "-m", "bench.scale", "--sizes", str(size), "--peers",
            str(args.peers), "--iterations", str(args.iterations), "--warmup",
            str(args.warmup), "--json"]
    proc = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, text=True,  # noqa: S603
                          timeout=ROW_TIMEOUT, check=False)
    try:
        return json.loads(proc.stdout)["rows"][0]
    except (ValueError, KeyError, IndexError):
        return {"meetings": size, "errors": [f"row process exited {proc.returncode} "
                                             f"without a row: {proc.stdout[-500:]!r}"]}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status (1 on any error or leftover)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,100,500,1000",
                        help="comma-separated meeting counts (at least 1), a row each")
    parser.add_argument("--peers", type=int, default=4, help="peers per meeting (at least 2)")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="sizes 1,10, 10 iterations (smoke)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.iterations, args.warmup = "1,10", 10, 3
    sizes = [int(n) for n in str(args.sizes).split(",") if n]
    if not sizes or min(sizes) < 1:
        parser.error("--sizes: meeting counts of at least 1 (the ops run inside a meeting)")
    if args.peers < 2:
        parser.error("--peers must be at least 2 (a peer consumes the others)")
    load_before = load_average()
    if len(sizes) == 1:
        rows = [asyncio.run(run_row(sizes[0], args.peers, args.iterations, args.warmup))]
    else:
        rows = [run_in_child(size, args) for size in sizes]
    errors = [e for r in rows for e in r["errors"]]
    if args.json:
        print_json({"peers": args.peers, "iterations": args.iterations, "warmup": args.warmup,
                    "load_average": [load_before, load_average()], "rows": rows,
                    "errors": len(errors)})
        return 1 if errors else 0
    print(f"scale: each row its own process and worker; {args.peers} peers a meeting "
          f"(2 WebRtcTransports, 1 Opus producer, {args.peers - 1} paused consumers each); "
          f"{args.iterations} iterations ({args.warmup} warm-up) of the ops in random meetings, "
          f"p50/p99 ms; load average {load_before}")
    print_tables(rows)
    for error in errors[:20]:
        print(f"error: {error}", file=sys.stderr)
    print(f"\nload average after: {load_average()}")
    print(f"errors: {len(errors)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
