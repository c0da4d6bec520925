"""`conference.autobahn_logging`: autobahn's debug-line helpers give the same text once
installed, and the per-frame one is not recomputed."""

from __future__ import annotations

import autobahn.util
from autobahn.websocket import protocol

from conference import autobahn_logging


class _Sample:
    def method(self) -> None:
        """A method to name."""


def test_hltype_names_what_autobahn_names():
    """The installed ``hltype`` gives autobahn's own text for a bound method, a function, a
    class and another object; a bound method's text is remembered per function."""
    autobahn_logging.install()
    ours = protocol.hltype
    assert ours is not autobahn.util.hltype
    first, second = _Sample(), _Sample()
    for obj in (first.method, second.method, _Sample.method, _Sample, first, 42):
        assert ours(obj) == autobahn.util.hltype(obj)
    assert ours(first.method) is ours(second.method)  # remembered, not made again
    autobahn_logging.install()  # idempotent: not wrapped twice
    assert protocol.hltype is ours
