"""``make cluster``: scripts/cluster.py starts N nodes behind its balancer and stops them.

It runs as the command would (a subprocess), on a database of this test's own (dropped
afterwards) and the cluster tests' Redis database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
import redis

from bots.live_cluster import _postgres_server
from bots.live_daphne import ROOT, _postgres, _with_database, free_port
from tests.rtc.cluster.conftest import REDIS_URL

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def database_url() -> Iterator[str]:
    """A database name nobody has; dropped afterwards (the script creates and keeps it)."""
    name = f"devcl_{uuid.uuid4().hex[:10]}"
    yield _with_database(_postgres_server(), name)
    _postgres(_postgres_server(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match="conference-dev-cluster*"))
    if keys:
        client.delete(*keys)
    client.close()


def _ready_node(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())["checks"]["node"]["node"]


def test_the_cluster_command_serves_through_its_balancer_and_stops_cleanly(
        database_url: str) -> None:
    """Two nodes come up on the given database; /readyz through the balancer is answered by
    node0, then node1, then node0 (one connection each, in turn); SIGINT stops both nodes
    with exit code 0 and the script with 0."""
    port = free_port()
    env = {**os.environ, "CLUSTER_DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
    process = subprocess.Popen(  # noqa: S603 (fixed argv)
        [sys.executable, str(ROOT / "scripts" / "cluster.py"), "--nodes", "2", "--port",
         str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    lines = []
    try:
        deadline = time.monotonic() + 150
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("balancer:"):
                break
        assert lines and lines[-1].startswith("balancer:"), "".join(lines)
        url = f"http://127.0.0.1:{port}/readyz"
        assert [_ready_node(url) for _ in range(3)] == ["node0", "node1", "node0"]
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(lines) + out
    assert "nodes stopped (exit codes [0, 0])" in out
