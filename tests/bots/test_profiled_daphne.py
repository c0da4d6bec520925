"""`bots.profiled_daphne`: the profile window keeps only what ran between its two signals."""

from __future__ import annotations

import os
import pstats
import signal

from bots.profiled_daphne import _Window


def _before_the_window() -> int:
    return sum(range(1000))


def _inside_the_window() -> int:
    return sum(range(2000))


def test_the_window_keeps_only_what_ran_between_its_signals(tmp_path):
    path = tmp_path / "burst.prof"
    window = _Window(str(path))
    previous = (signal.signal(signal.SIGUSR1, window.restart),
                signal.signal(signal.SIGUSR2, window.stop))
    try:
        assert window.profiler is not None
        window.profiler.enable()
        _before_the_window()
        os.kill(os.getpid(), signal.SIGUSR1)  # after the warm-up: forget the start
        _inside_the_window()
        os.kill(os.getpid(), signal.SIGUSR2)  # the row is done: write it
        _before_the_window()
    finally:
        signal.signal(signal.SIGUSR1, previous[0])
        signal.signal(signal.SIGUSR2, previous[1])
        window.stop()  # nothing more: already written
    names = {name for (_, _, name) in pstats.Stats(str(path)).stats}
    assert "_inside_the_window" in names
    assert "_before_the_window" not in names
    assert window.profiler is None
