"""Control-plane cost of mediasoup_ctl against mediasoup's Node layer, on the same worker binary.

Runs the ops of ``bench/node/control_plane.mjs`` (same names, same order, same inputs from
``bench/node/fixtures.json``) with the Python layer, then runs that Node script as a
subprocess in the same invocation, and prints one table of p50/p99 per op with the
Python/Node ratios::

    .venv/bin/python -m bench.control_plane [--quick | --iterations N] [--json] [--profile]

Ops, each awaited one at a time on one worker:

* ``worker_dump``, ``worker_resource_usage``, ``router_dump``: request round trips;
* ``router_create``, ``webrtc_transport_create``, ``produce_audio``,
  ``produce_video_simulcast``, ``consume_video`` (paused): the awaited create call;
* ``*_close``: ``close()`` itself, which in both layers sends the request without waiting;
* ``*_close_acked``: ``close()`` and then one resource-usage round trip, which the worker
  answers only after it processed the close (the fair comparison of a close).

``--profile`` also runs the Python loop under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mediasoup_ctl import MEDIASOUP_VERSION, Worker, create_worker, worker_bin_path  # noqa: E402

from bench._common import REPO, Samples, format_table, load_average, print_json  # noqa: E402

__all__ = ["run_python", "run_node", "main"]


NODE_SCRIPT = REPO / "bench" / "node" / "control_plane.mjs"
FIXTURES = json.loads((REPO / "bench" / "node" / "fixtures.json").read_text())

OP_ORDER = [
    "worker_dump", "worker_resource_usage", "router_dump",
    "router_create", "router_close", "router_close_acked",
    "webrtc_transport_create",
    "produce_audio", "producer_audio_close", "producer_audio_close_acked",
    "produce_video_simulcast", "producer_video_close", "producer_video_close_acked",
    "webrtc_transport_close", "webrtc_transport_close_acked",
    "consume_video", "consumer_close", "consumer_close_acked",
]


async def _timed_close(samples: Samples, op: str, worker: Worker, obj: Any) -> None:
    """Like Node's ``timedClose``: the close call, then the round trip that proves it."""
    start = time.perf_counter_ns()
    obj.close()
    closed = time.perf_counter_ns()
    await worker.get_resource_usage()
    samples.add_ns(f"{op}_close", start, closed)
    samples.add_ns(f"{op}_close_acked", start)


async def _iteration(samples: Samples, worker: Worker, router: Any, consumer_transport: Any,
                     video_producer: Any) -> None:
    listen_infos = FIXTURES["listenInfos"]
    await samples.timed("worker_dump", worker.dump)
    await samples.timed("worker_resource_usage", worker.get_resource_usage)
    await samples.timed("router_dump", router.dump)

    r = await samples.timed("router_create",
                     lambda: worker.create_router(media_codecs=FIXTURES["mediaCodecs"]))
    await _timed_close(samples, "router", worker, r)

    t = await samples.timed("webrtc_transport_create",
                     lambda: router.create_webrtc_transport(listen_infos=listen_infos))
    audio = await samples.timed("produce_audio", lambda: t.produce(
        kind="audio", rtp_parameters=FIXTURES["audioRtpParameters"]))
    await _timed_close(samples, "producer_audio", worker, audio)
    video = await samples.timed("produce_video_simulcast", lambda: t.produce(
        kind="video", rtp_parameters=FIXTURES["videoRtpParameters"]))
    await _timed_close(samples, "producer_video", worker, video)
    await _timed_close(samples, "webrtc_transport", worker, t)

    consumer = await samples.timed("consume_video", lambda: consumer_transport.consume(
        producer_id=video_producer.id, rtp_capabilities=router.rtp_capabilities, paused=True))
    await _timed_close(samples, "consumer", worker, consumer)


async def run_python(iterations: int, warmup: int,
                     profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    """Run the ops with mediasoup_ctl; returns the Node script's JSON shape."""
    samples = Samples()
    worker = await create_worker(log_level="error", rtc_min_port=40000, rtc_max_port=49999)
    try:
        router = await worker.create_router(media_codecs=FIXTURES["mediaCodecs"])
        listen_infos = FIXTURES["listenInfos"]
        producer_transport = await router.create_webrtc_transport(listen_infos=listen_infos)
        consumer_transport = await router.create_webrtc_transport(listen_infos=listen_infos)
        video_producer = await producer_transport.produce(
            kind="video", rtp_parameters=FIXTURES["videoRtpParameters"])
        for i in range(warmup + iterations):
            samples.recording = i >= warmup
            if profiler is not None and i == warmup:
                profiler.enable()
            await _iteration(samples, worker, router, consumer_transport, video_producer)
        if profiler is not None:
            profiler.disable()
        leftover = (await worker.dump())["routerIds"]
        if leftover != [router.id]:
            raise RuntimeError(f"routers left in the worker: {leftover}")
    finally:
        worker.close()
        await worker.wait_closed(10)
    return {
        "impl": "python",
        "mediasoup": MEDIASOUP_VERSION,
        "python": platform.python_version(),
        "event_loop": type(asyncio.get_running_loop()).__module__,
        "worker_bin": worker_bin_path(),
        "iterations": iterations,
        "warmup": warmup,
        "ops": samples.summary(),
    }


def run_node(iterations: int, warmup: int, timeout: float = 300) -> dict[str, Any]:
    """Run ``bench/node/control_plane.mjs`` on the same worker binary and parse its JSON."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed (Node >= 20 runs the reference)")
    env = dict(os.environ, MEDIASOUP_WORKER_BIN=worker_bin_path())
    proc = subprocess.run(  # noqa: S603 (fixed argv)
        [node, str(NODE_SCRIPT), "--iterations", str(iterations), "--warmup", str(warmup)],
        env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        hint = ("; install it with: bash scripts/setup-node-reference.sh"
                if "Cannot find" in proc.stderr else "")
        raise RuntimeError(f"node reference failed ({proc.returncode}): "
                           f"{proc.stderr.strip()[-2000:]}{hint}")
    return json.loads(proc.stdout)


def _ratio(py: dict[str, Any] | None, node: dict[str, Any] | None, key: str) -> float | None:
    if not py or not node or not node.get(key):
        return None
    return round(py[key] / node[key], 2)


def build_rows(python: dict[str, Any], node: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per op: Python and Node p50/p99 and the Python/Node ratios."""
    node_ops = (node or {}).get("ops", {})
    names = [op for op in OP_ORDER if op in python["ops"]]
    names += [op for op in python["ops"] if op not in names]
    rows = []
    for op in names:
        py, nd = python["ops"][op], node_ops.get(op)
        rows.append({
            "op": op,
            "python_p50_ms": py["p50_ms"], "python_p99_ms": py["p99_ms"],
            "node_p50_ms": nd["p50_ms"] if nd else None,
            "node_p99_ms": nd["p99_ms"] if nd else None,
            "ratio_p50": _ratio(py, nd, "p50_ms"), "ratio_p99": _ratio(py, nd, "p99_ms"),
        })
    return rows


def _times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _profile_report(profiler: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="10 iterations, 3 warm-up (smoke)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-node", action="store_true", help="skip the Node reference")
    parser.add_argument("--profile", action="store_true",
                        help="profile the Python loop (cProfile, by own time)")
    parser.add_argument("--uvloop", action="store_true",
                        help="run the Python side on uvloop (pip install uvloop) to compare")
    parser.add_argument("--no-gc", action="store_true",
                        help="disable Python's cyclic GC during the Python run")
    args = parser.parse_args(argv)
    if args.quick:
        args.iterations, args.warmup = 10, 3
    profiler = cProfile.Profile() if args.profile else None
    if args.no_gc:
        gc.disable()
    runner = asyncio.run
    if args.uvloop:
        try:
            import uvloop
        except ImportError:
            parser.error("--uvloop needs the uvloop package (not a project dependency)")
        runner = uvloop.run
    python = runner(run_python(args.iterations, args.warmup, profiler))
    gc.enable()
    node = None if args.no_node else run_node(args.iterations, args.warmup)
    rows = build_rows(python, node)
    if args.json:
        print_json({"python": python, "node": node, "rows": rows, "errors": 0})
        return 0
    print(f"control plane: {args.iterations} iterations ({args.warmup} warm-up), one worker, "
          f"ops awaited one at a time; load average {load_average()}")
    print(f"python {python['python']} ({python['event_loop']}), "
          f"node {node['node'] if node else '-'}, mediasoup-worker {MEDIASOUP_VERSION}")
    print(format_table(
        ["op", "py p50 ms", "py p99 ms", "node p50 ms", "node p99 ms", "ratio p50", "ratio p99"],
        [[r["op"], r["python_p50_ms"], r["python_p99_ms"], r["node_p50_ms"], r["node_p99_ms"],
          _times(r["ratio_p50"]), _times(r["ratio_p99"])] for r in rows]))
    print("errors: 0")
    if profiler is not None:
        print()
        print(_profile_report(profiler))
    return 0


if __name__ == "__main__":
    sys.exit(main())
