"""``daphne`` under cProfile, with a window: ``python -m bots.profiled_daphne PATH ARGS...``.

Profiling the whole process mixes Django's start-up and the warm-up into what a benchmark wants
to see (a burst's request and event path). This launcher profiles daphne's main thread (the
event loop) from start, and on signals:

* ``SIGUSR1``: forget what was collected so far and go on profiling (sent after the warm-up);
* ``SIGUSR2``: stop and write the stats to PATH (sent when the measured row is done).

A process that ends while still profiling writes them too. The signal handlers run on the
main thread, between two bytecodes of whatever it runs, as Python delivers every signal.
"""

from __future__ import annotations

import cProfile
import signal
import sys
from types import FrameType


class _Window:
    """The one profiler of this process and where it writes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.profiler: cProfile.Profile | None = cProfile.Profile()

    def restart(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        if self.profiler is not None:
            self.profiler.disable()
        self.profiler = cProfile.Profile()
        self.profiler.enable()

    def stop(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        profiler, self.profiler = self.profiler, None
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(self.path)


def main() -> None:
    path, sys.argv = sys.argv[1], ["daphne", *sys.argv[2:]]
    window = _Window(path)
    signal.signal(signal.SIGUSR1, window.restart)
    signal.signal(signal.SIGUSR2, window.stop)
    from daphne.cli import CommandLineInterface

    assert window.profiler is not None
    window.profiler.enable()
    try:
        CommandLineInterface.entrypoint()
    finally:
        window.stop()


if __name__ == "__main__":
    main()
