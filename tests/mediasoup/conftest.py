"""Fixtures for the tests of the library with the bots' WebRTC peers: a real worker, checked
for leaks on teardown, from the library's own pytest plugin (`mediasoup_ctl.testing`, which
its tests use too)."""

from mediasoup_ctl.testing import worker, worker_bin  # noqa: F401
