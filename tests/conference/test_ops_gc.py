"""The ASGI module freezes its start-up objects out of the garbage collector's full passes."""

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
