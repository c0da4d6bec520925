"""mediasoup's Node layer behind a minimal signaling server, for ``bench/signaling.py``.

``bench/node/signaling_server.mjs`` (Node 20, mediasoup 3.16.0 from ``make reference``, the
``ws`` package) on the same worker binary, started and stopped per row like the daphne of
:mod:`bench._server`, with the same interface (``start``, ``stop``, ``sample``, ``url``,
``origin``, ``log``), so the same scripted peers run against both in one invocation and the
project's figures can be given as ratios to it. Its seats (which token may join which meeting)
are the tokens and invitations seeded for daphne.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import LoopbackTarget, ProcSample, process_tree_sample
from bots.live_daphne import free_port, stop_process_tree

__all__ = ["NodeSignalingServer", "node_reference_ready"]

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "node" / "signaling_server.mjs"
CACHE = Path(os.environ.get("CONFERENCE_CACHE", Path.home() / ".cache" / "conference"))


def node_reference_ready() -> str | None:
    """None when Node and the reference (mediasoup + ws) are installed; otherwise why not."""
    if shutil.which("node") is None:
        return "node is not installed"
    modules = CACHE / "node-reference" / "node_modules"
    for package in ("mediasoup", "ws"):
        if not (modules / package / "package.json").exists():
            return f"{package} missing in {modules}: run `make reference`"
    return None


class NodeSignalingServer(LoopbackTarget):
    """One Node signaling server process at a time, on a fresh free port per ``start``."""

    def __init__(self, seats: dict[str, list[str]]) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="conference-bench-node-"))
        self.seats_path = self.workdir / "seats.json"
        self.seats_path.write_text(json.dumps({"tokens": seats}))
        self.log_path = self.workdir / "node.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 30) -> NodeSignalingServer:
        """Start the server and wait for its "listening" line."""
        self.port = free_port()
        command = ["node", str(SCRIPT), "--port", str(self.port), "--seats", str(self.seats_path)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed argv)
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Node server exited early:\n{self.log()}")
            if f"listening {self.port}" in self.log():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the Node server did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """The end of the server's output."""
        return self.log_path.read_text(errors="replace")[-20000:] if self.log_path.exists() else ""

    def sample(self) -> tuple[ProcSample, float, list[ProcSample]]:
        """CPU and RSS of the Node process, its main thread's CPU, and each of its workers."""
        assert self.process is not None
        return process_tree_sample(self.process.pid)

    def stop(self) -> int | None:
        """SIGTERM (it closes its workers), SIGKILL if it lingers; its exit code."""
        return stop_process_tree(self.process, timeout=10)

    def cleanup(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __repr__(self) -> str:  # pragma: no cover - diagnostics
        return f"NodeSignalingServer(port={self.port})"


def seats_from(seeded: dict[str, Any]) -> dict[str, list[str]]:
    """token → meetings it may join, from :meth:`bench._server.DaphneServer.prepare`."""
    return {token: list(meetings) for token, meetings in seeded["seats"].items()}
