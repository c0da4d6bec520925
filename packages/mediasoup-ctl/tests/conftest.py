"""The library's tests use its own pytest plugin: a real mediasoup-worker per test, checked
for leaks on teardown (`mediasoup_ctl.testing`, also used by the application's tests)."""

import pytest

from mediasoup_ctl import negotiation_cache

pytest_plugins = ["mediasoup_ctl.testing"]


@pytest.fixture
def own_consume_cache(monkeypatch):
    """The test starts with an empty consume cache (it is the process's)."""
    monkeypatch.setattr(negotiation_cache, "_consume_cache", {})
