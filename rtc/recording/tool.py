"""A media tool (FFmpeg) run as a supervised subprocess.

The recorder and the composer start FFmpeg with a fixed argument list (never a shell), its
standard error going to a log file beside its output, so a failure can be explained without
pipes that fill up. :meth:`MediaTool.stop` asks it to finish (SIGINT: FFmpeg writes the
file's trailer and index) and kills it when it does not. An exit nobody asked for is reported
to the ``on_exit`` callback with the reason read from its log (for example ``disk_full``).

Each process gets ``PR_SET_PDEATHSIG`` (SIGTERM): if the server dies without stopping it, the
kernel tells FFmpeg to finish, so no tool outlives the process that owns the recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtc.recording.tasks import detached_task

__all__ = ["MediaTool", "ToolError", "ToolExit", "classify_failure", "ffmpeg_binary",
           "log_tail", "run_tool"]

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
"""Seconds FFmpeg gets to write its trailer after SIGINT before it is killed."""
NUDGE_INTERVAL = 0.1
DISK_FULL_BYTES = 1 << 20
"""A tool that failed where less than this is free failed for the full disk: its own message
saying so could not be written to its log on that disk."""
"""Seconds between nudges while a tool finishes (see :meth:`MediaTool.stop`)."""
PR_SET_PDEATHSIG = 1
FAILURE_PATTERNS = (
    ("No space left on device", "disk_full"),
    ("Disk quota exceeded", "disk_full"),
    ("File too large", "disk_full"),
    ("Permission denied", "permission_denied"),
    ("Address already in use", "port_in_use"),
    ("bind failed", "port_in_use"),
)


class ToolError(RuntimeError):
    """The media tool could not be started, or failed; ``reason`` is a short code."""

    def __init__(self, message: str, *, reason: str = "tool_failed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ToolExit:
    """How a tool process ended."""

    returncode: int | None
    """The exit status (negative: killed by that signal); None if it never started."""
    requested: bool
    """Whether :meth:`MediaTool.stop` asked for it."""
    reason: str
    """``stopped`` when asked, else a short code: ``disk_full``, ``killed``, ``tool_failed``."""
    detail: str
    """The end of the tool's log (for logs and failure reasons; never sent to clients)."""


def ffmpeg_binary(name: str = "ffmpeg") -> str:
    """The path of ``ffmpeg`` (or ``ffprobe``); ToolError when it is not installed."""
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} is not installed (scripts/system-deps.sh installs it)",
                        reason="tool_missing")
    return found


def log_tail(path: Path | None, limit: int = 2000) -> str:
    """The last ``limit`` characters of a tool log ('' when there is none)."""
    if path is None or not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - limit))
        return handle.read().decode(errors="replace")


def disk_full(path: Path) -> bool:
    """Whether the file system holding ``path`` (a directory) has (almost) no space left."""
    try:
        return shutil.disk_usage(path).free < DISK_FULL_BYTES
    except OSError:
        return False


def classify_failure(returncode: int | None, detail: str, directory: Path | None = None) -> str:
    """A short reason code for an unrequested exit, from the exit status and the log (and,
    for a failure the log does not explain, the free space of ``directory``)."""
    for pattern, reason in FAILURE_PATTERNS:
        if pattern in detail:
            return reason
    if returncode is not None and returncode < 0:
        return "killed"
    if directory is not None and disk_full(directory):
        return "disk_full"
    return "tool_failed"


def _die_with_parent() -> None:  # pragma: no cover (runs in the child before exec)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class MediaTool:
    """One tool process: ``await start()``, then ``await stop()`` (or it exits by itself)."""

    def __init__(self, argv: Sequence[str], *, name: str, log_path: Path,
                 on_exit: Callable[[ToolExit], Any] | None = None) -> None:
        self.argv = list(argv)
        self.name = name
        self.log_path = log_path
        self.on_exit = on_exit
        self.process: asyncio.subprocess.Process | None = None
        self.started_at: float | None = None
        self.exit: ToolExit | None = None
        self._stopping = False
        self._waiter: asyncio.Task[ToolExit] | None = None

    @property
    def pid(self) -> int | None:
        """The process id while it runs (None before start)."""
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self.process is not None and self.exit is None

    async def start(self) -> None:
        """Spawn the process (its log is appended to ``log_path``)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self.process = await asyncio.create_subprocess_exec(
                    *self.argv, stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, stderr=log,
                    preexec_fn=_die_with_parent, start_new_session=True)
            except OSError as error:
                raise ToolError(f"{self.name}: cannot start {self.argv[0]}: {error}",
                                reason="tool_missing") from None
        self.started_at = time.monotonic()
        self._waiter = detached_task(self._wait())
        logger.debug("tool started [%s, pid:%s]", self.name, self.process.pid)

    async def _wait(self) -> ToolExit:
        assert self.process is not None
        returncode = await self.process.wait()
        detail = log_tail(self.log_path)
        reason = ("stopped" if self._stopping
                  else classify_failure(returncode, detail, self.log_path.parent))
        self.exit = ToolExit(returncode=returncode, requested=self._stopping, reason=reason,
                             detail=detail)
        if self._stopping or (self.on_exit is None and returncode == 0):
            logger.debug("tool ended [%s, pid:%s, code:%s]", self.name, self.process.pid,
                         returncode)
        else:
            logger.warning("tool exited by itself [%s, pid:%s, code:%s, reason:%s]: %s",
                           self.name, self.process.pid, returncode, reason,
                           detail.strip().splitlines()[-1:] or "")
            if self.on_exit is not None:
                try:
                    self.on_exit(self.exit)
                except Exception:
                    logger.exception("tool exit callback failed [%s]", self.name)
        return self.exit

    async def wait(self) -> ToolExit:
        """Wait for the process to end (however it ends)."""
        if self._waiter is None:
            return ToolExit(returncode=None, requested=False, reason="not_started", detail="")
        return await asyncio.shield(self._waiter)

    async def stop(self, timeout: float = STOP_TIMEOUT,
                   nudge: Callable[[], Any] | None = None) -> ToolExit:
        """Ask the process to finish its file (SIGINT), kill it after ``timeout``; its exit.

        FFmpeg leaves its loop on SIGINT only after its next input packet: a read blocked on a
        silent input (a paused track) waits for one, and a second SIGINT would also abort the
        writing of the trailer. ``nudge`` (called every ``NUDGE_INTERVAL`` meanwhile) gives it
        that packet.
        """
        if self.process is None or self._waiter is None:
            return await self.wait()
        if self.exit is None:
            self._stopping = True
            self._signal(signal.SIGINT)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while self.exit is None and loop.time() < deadline:
                if nudge is not None:
                    try:
                        nudge()
                    except OSError as error:
                        logger.debug("nudge failed [%s]: %s", self.name, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._waiter), NUDGE_INTERVAL)
            if self.exit is None:
                logger.warning("tool did not finish in %ss, killing it [%s, pid:%s]", timeout,
                               self.name, self.process.pid)
                self._signal(signal.SIGKILL)
        return await self.wait()

    def kill(self) -> None:
        """SIGKILL the process now (cleanup paths that cannot wait)."""
        if self.exit is None:
            self._stopping = True
            self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)


async def run_tool(argv: Sequence[str], *, name: str, log_path: Path,
                   timeout: float | None = None) -> ToolExit:
    """Run a tool to completion (the composer); ToolError with the reason when it fails."""
    tool = MediaTool(argv, name=name, log_path=log_path)
    await tool.start()
    try:
        result = await asyncio.wait_for(tool.wait(), timeout)
    except TimeoutError:
        await tool.stop(timeout=2)
        raise ToolError(f"{name} took longer than {timeout}s", reason="timeout") from None
    except asyncio.CancelledError:
        await tool.stop(timeout=2)
        raise
    if result.returncode != 0:
        raise ToolError(f"{name} failed ({result.returncode}): {result.detail[-300:]}",
                        reason=classify_failure(result.returncode, result.detail,
                                                log_path.parent))
    return result
