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
from pathlib import Path
from typing import Any

from bench._server_process import ServerProcess
from bots.live_daphne import free_port

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


class NodeSignalingServer(ServerProcess):
    """One Node signaling server process at a time, on a fresh free port per ``start``."""

    name = "the Node server"

    def __init__(self, seats: dict[str, list[str]]) -> None:
        super().__init__("conference-bench-node-", "node.log")
        self.seats_path = self.workdir / "seats.json"
        self.seats_path.write_text(json.dumps({"tokens": seats}))

    def start(self, *, timeout: float = 30) -> NodeSignalingServer:
        """Start the server and wait for its "listening" line."""
        self.port = free_port()
        command = ["node", str(SCRIPT), "--port", str(self.port), "--seats", str(self.seats_path)]
        self.launch(command, ready=lambda: f"listening {self.port}" in self.log(),
                    timeout=timeout, poll=0.1)
        return self

    def __repr__(self) -> str:  # pragma: no cover - diagnostics
        return f"NodeSignalingServer(port={self.port})"


def seats_from(seeded: dict[str, Any]) -> dict[str, list[str]]:
    """token → meetings it may join, from :meth:`bench._server.DaphneServer.prepare`."""
    return {token: list(meetings) for token, meetings in seeded["seats"].items()}
