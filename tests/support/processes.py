"""Looking at other processes from a test, through /proc: the FFmpeg tools a recording runs,
the mediasoup workers a server started. One scan for every such question."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

__all__ = ["ffmpeg_under", "proc_files", "worker_children"]


def proc_files(name: str) -> Iterator[tuple[int, str]]:
    """``(pid, text)`` of ``/proc/<pid>/<name>`` (``cmdline``, ``stat``, ...) for each process
    now; NULs (``cmdline``'s separators) read as spaces, processes that vanish are skipped."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / name).read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        yield int(entry.name), text


def ffmpeg_under(workdir: Path) -> list[str]:
    """Command lines of running FFmpeg processes writing under ``workdir``."""
    return [cmdline for _, cmdline in proc_files("cmdline")
            if "ffmpeg" in cmdline and str(workdir) in cmdline]


def worker_children(parent: int) -> list[int]:
    """mediasoup-worker processes that are children of ``parent``."""
    pids = []
    for pid, stat in proc_files("stat"):
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == parent and comm.startswith("mediasoup-work"):
            pids.append(pid)
    return pids
