"""Fixtures for the benchmark smoke tests: run a ``bench`` script as its own process."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from mediasoup_ctl import worker_bin_path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BenchRun:
    """What a benchmark script printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str


async def _run(module: str, *args: str, timeout: float = 100) -> BenchRun:
    # Under pytest-timeout's 120 s, so a hung script fails here with its output.
    # The scripts start their own servers and databases: the test run's ones are not theirs.
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return BenchRun(proc.returncode or 0, out.decode(), err.decode())


@pytest.fixture
def run_bench() -> Callable[..., Awaitable[BenchRun]]:
    """``await run_bench("bench.media", "--quick")``: run a script to completion."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    return _run
