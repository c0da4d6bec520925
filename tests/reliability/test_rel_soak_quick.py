"""``bench/soak.py --quick`` runs: a live daphne goes through its cycles and holds nothing after
(the long run is a measurement, not a test; its figures are in the reliability report)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(120)]


def test_soak_quick_run_leaves_nothing_behind() -> None:
    """40 cycles over 4 meetings: every row shows no room, peer, transport, producer,
    consumer or worker router, and the script exits 0."""
    result = subprocess.run([sys.executable, "-m", "bench.soak", "--quick", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)
    assert [row["cycles"] for row in rows] == [0, 10, 20, 30, 40, 40]
    for row in rows:
        assert (row["rooms"], row["peers"], row["transports"], row["producers"],
                row["consumers"], row["worker_routers"]) == (0, 0, 0, 0, 0, 0), row
        assert row["daphne_rss_mib"] > 0 and row["workers_rss_mib"] > 0
