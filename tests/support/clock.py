"""The ``manual_clock`` fixture: the process runs on a :class:`conference.clock.ManualClock`.

Rate buckets, reconnect grace periods and transport connect deadlines read the process's
clock (`conference.clock`); a test that takes this fixture moves time with
``await manual_clock.advance(seconds)`` instead of sleeping through it, and waits for the code
to reach its timer with ``await manual_clock.wait_scheduled()``. Everything on the process
clock stands still meanwhile: a socket's rate bucket refills only when the test advances, and
timers armed before the fixture was set up stay on the real loop (take the fixture first to
catch those).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conference.clock import ManualClock, use_clock

__all__ = ["manual_clock"]


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    """A clock that stands still until the test advances it, installed for the whole process
    during the test (the system clock again afterwards)."""
    with use_clock(ManualClock()) as clock:
        assert isinstance(clock, ManualClock)
        yield clock
