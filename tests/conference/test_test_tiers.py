"""The tier markers of the test suite (`tests.support.tiers`): what a test uses decides its
tier, the highest wins, a written marker overrides, and the fast tier's guard refuses a unit
test that starts a worker or a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tests.support import tiers


def _item(*, fixtures: tuple[str, ...] = (), names: tuple[str, ...] = (),
          path: str = "tests/rtc/websocket/test_x.py", marks: tuple[str, ...] = ()) -> Any:
    module = ModuleType("test_x")
    for name in names:
        setattr(module, name, object())
    return SimpleNamespace(
        fixturenames=list(fixtures), module=module, path=Path("/repo") / path,
        nodeid=f"{path}::test_x",
        iter_markers=lambda: [SimpleNamespace(name=m) for m in marks])


def test_a_test_is_in_the_highest_tier_it_asks_for() -> None:
    """No fixture or name of a higher tier: unit; a worker fixture: worker; a live server
    beside a worker: e2e; a browser: browser; a folder's tier counts as asked."""
    assert tiers.tier_of(_item(fixtures=("meeting", "ws_join"))) == "unit"
    assert tiers.tier_of(_item(fixtures=("rtc_client",))) == "worker"
    assert tiers.tier_of(_item(fixtures=("rtc_service",), names=("LiveDaphne",))) == "e2e"
    assert tiers.tier_of(_item(fixtures=("live_site", "chromium"))) == "browser"
    assert tiers.tier_of(_item(path="tests/mediasoup/test_y.py")) == "worker"
    assert tiers.tier_of(_item(path="tests/rtc/cluster/test_make_cluster.py")) == "e2e"


def test_a_written_marker_wins() -> None:
    """A test marked by hand keeps its tier whatever it uses."""
    assert tiers.tier_of(_item(fixtures=("rtc_service",), marks=("e2e",))) == "e2e"
    assert tiers.tier_of(_item(names=("LiveDaphne",), marks=("unit",))) == "unit"


def test_this_test_was_marked_unit(request: pytest.FixtureRequest) -> None:
    """The collection hook gave the tests of this file the unit marker."""
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("worker") is None


def test_the_guard_names_what_a_child_process_is() -> None:
    """A worker, daphne, Chromium, anything else: the tier the guard asks for."""
    assert tiers._started(["/cache/bin/mediasoup-worker", "--logLevel=warn"]) == "worker"
    assert tiers._started(["/venv/bin/daphne", "-b", "127.0.0.1"]) == "e2e"
    assert tiers._started([sys.executable, "-m", "daphne", "x:app"]) == "e2e"
    assert tiers._started(["/usr/bin/chromium", "--headless"]) == "browser"
    assert tiers._started([sys.executable, "-c", "import bots.live_daphne"]) == "slow"
    assert tiers._started(["/usr/bin/redis-server", "--port", "0"]) is None


def test_the_guard_refuses_a_child_process_and_records_it() -> None:
    """Under the guard a child process is refused and recorded against the test (to fail it
    at teardown even if the code that started it swallowed the error); afterwards Popen is
    what it was."""
    item = _item()
    before = subprocess.Popen.__init__
    with tiers._guarded(item), pytest.raises(tiers._Escaped, match="mark it slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert "mark it slow" in tiers._escapes.pop(item.nodeid)[0]
    assert subprocess.Popen.__init__ is before
