"""The ASGI module freezes its start-up objects out of the garbage collector's full passes and
makes those passes rarer."""

from __future__ import annotations

import os
import subprocess
import sys

from bots.live_daphne import ROOT


def test_asgi_module_freezes_start_up_objects():
    """After ``conference.asgi`` is imported (as daphne does), Django's and the project's
    start-up objects are frozen: full collections no longer walk them."""
    code = ("import gc, conference.asgi; "
            "print(gc.get_freeze_count(), len(gc.get_objects()))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "conference.settings"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout.split()
    frozen, tracked = int(out[0]), int(out[1])
    assert frozen > 50_000, out
    assert tracked < frozen / 10, out


def test_asgi_module_makes_full_collections_rarer_as_configured():
    """The server's full collections come once every ``GC_FULL_EVERY`` middle ones (100 by
    default, CPython's 10 made a 25-42 ms stall in a burst of call set-ups); the young
    generations keep CPython's thresholds."""
    code = "import gc, conference.asgi; print(*gc.get_threshold())"
    for setting, expected in ((None, 100), ("7", 7)):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "conference.settings"}
        env.pop("GC_FULL_EVERY", None)
        if setting is not None:
            env["GC_FULL_EVERY"] = setting
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True, timeout=120).stdout.split()
        assert [int(n) for n in out] == [700, 10, expected], out
