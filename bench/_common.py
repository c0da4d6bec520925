"""Helpers shared by the benchmark scripts: percentiles, tables, process CPU and memory.

Kept free of Django and of mediasoup_ctl so every script can import it before deciding what
else it needs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "REPO",
    "LoopbackTarget",
    "ProcSample",
    "Samples",
    "format_table",
    "load_average",
    "main_thread_cpu",
    "nearest_rank",
    "print_json",
    "proc_sample",
    "process_tree_sample",
    "summarize",
]

REPO = Path(__file__).resolve().parent.parent
"""The repository root (scripts put it on ``sys.path`` so ``rtc`` imports when run directly)."""

T = TypeVar("T")

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, the same definition as ``bench/node/control_plane.mjs``."""
    if not sorted_values:
        return float("nan")
    index = max(0, -(-p * len(sorted_values) // 100) - 1)  # ceil(p/100 * n) - 1
    return sorted_values[int(index)]


def summarize(values: Iterable[float]) -> dict[str, Any]:
    """``{n, p50_ms, p99_ms, mean_ms, min_ms, max_ms}`` of millisecond samples (Node's shape)."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}

    def r(v: float) -> float:
        return round(v, 3)

    return {
        "n": len(ordered),
        "p50_ms": r(nearest_rank(ordered, 50)),
        "p99_ms": r(nearest_rank(ordered, 99)),
        "mean_ms": r(sum(ordered) / len(ordered)),
        "min_ms": r(ordered[0]),
        "max_ms": r(ordered[-1]),
    }


class LoopbackTarget:
    """What ``bench.signaling.run_row`` needs of a server on a loopback ``port``: its
    WebSocket base ``url`` (no trailing slash) and an ``origin`` it accepts."""

    port: int

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``: the same host, so every check accepts it."""
        return f"http://127.0.0.1:{self.port}"


class Samples:
    """Millisecond samples per operation name, recorded only while ``recording`` is true."""

    def __init__(self) -> None:
        self.by_op: dict[str, list[float]] = {}
        self.recording = True

    def add(self, op: str, ms: float) -> None:
        """Record one sample of ``op`` (ignored during warm-up)."""
        if self.recording:
            self.by_op.setdefault(op, []).append(ms)

    def add_ns(self, op: str, start_ns: int, end_ns: int | None = None) -> None:
        """Record ``end - start`` (now if no end) given in ``perf_counter_ns`` units."""
        end = time.perf_counter_ns() if end_ns is None else end_ns
        self.add(op, (end - start_ns) / 1e6)

    async def timed(self, op: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Await ``fn()``, record how long it took under ``op``; its result."""
        start = time.perf_counter_ns()
        result = await fn()
        self.add_ns(op, start)
        return result

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per-op summaries, in the order the ops were first recorded."""
        return {op: summarize(values) for op, values in self.by_op.items()}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table: left-aligned first column, right-aligned numbers."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))

    def line(values: Sequence[str]) -> str:
        parts = [values[0].ljust(widths[0])]
        parts += [v.rjust(widths[i]) for i, v in enumerate(values) if i > 0]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    return "\n".join(out)


@dataclass(frozen=True)
class ProcSample:
    """CPU time (user + system, seconds) and resident memory (bytes) of a process at a time."""

    wall: float
    cpu: float
    rss: int


def _cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid``: schedstat (nanoseconds) when the kernel has it."""
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat", "rb") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (FileNotFoundError, ProcessLookupError):
        raise
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # Fields after the command name (which may contain spaces) start after the last ')'.
    fields = stat[stat.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main_thread_cpu(pid: int) -> float:
    """CPU seconds of the main thread of ``pid`` alone (its event loop, in daphne's case)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def proc_sample(pid: int) -> ProcSample:
    """CPU time so far (all threads, from /proc) and RSS of ``pid`` now."""
    cpu = _cpu_seconds(pid)
    with open(f"/proc/{pid}/statm", "rb") as f:
        rss_pages = int(f.read().split()[1])
    return ProcSample(time.monotonic(), cpu, rss_pages * PAGE_SIZE)


def process_tree_sample(pid: int) -> tuple[ProcSample, float, list[ProcSample]]:
    """A server process's CPU and RSS, its main thread's CPU (the event loop), and each of
    its children's (the mediasoup workers), now; children gone meanwhile are left out."""
    workers = []
    for child in _children(pid):
        try:
            workers.append(proc_sample(child))
        except OSError:
            pass
    return proc_sample(pid), main_thread_cpu(pid), workers


def _children(pid: int) -> list[int]:
    from bots.live_daphne import children_of

    return children_of(pid)


def load_average() -> str:
    """The 1/5/15-minute load averages, to note how busy the machine was during a run."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON on stdout."""
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")
