"""A benchmark's server subprocess: a fresh loopback port per start, its output in a log file,
its CPU and memory read from /proc. The Node reference servers and the stack-floor servers are
all started, watched and stopped this way; each says how it is launched and when it is ready."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._common import LoopbackTarget, ProcSample, process_tree_sample
from bots.live_daphne import ROOT, stop_process_tree

__all__ = ["ServerProcess"]


class ServerProcess(LoopbackTarget):
    """One server process at a time; ``name`` says which in errors."""

    name = "the server"

    def __init__(self, prefix: str, log_name: str = "server.log") -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=prefix))
        self.log_path = self.workdir / log_name
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self, command: list[str], *, ready: Callable[[], bool], timeout: float,
               env: dict[str, str] | None = None, poll: float = 0.05) -> None:
        """Start ``command`` (its output to the log) and wait until ``ready()``; stop it and
        raise with the log's end if it exits or is not ready within ``timeout`` seconds."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed argv)
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            if ready():
                return
            time.sleep(poll)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """The end of the server's output."""
        return self.log_path.read_text(errors="replace")[-20000:] if self.log_path.exists() else ""

    def sample(self) -> tuple[ProcSample, float, list[ProcSample]]:
        """CPU and RSS of the server, its main thread's CPU, and each of its children."""
        assert self.process is not None
        return process_tree_sample(self.process.pid)

    def stop(self) -> int | None:
        """SIGTERM, SIGKILL if it lingers; its exit code."""
        return stop_process_tree(self.process, timeout=10)

    def cleanup(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
