"""Running a few lines of Python the way a server starts: a fresh interpreter at the repository
root with the project's Django settings, so that what the environment sets up at import time
(``settings.RTC_LIMITS`` from ``RTC_*`` variables, the ASGI application) is really exercised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "run_probe"]

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""


def run_probe(probe: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``probe`` (Python source) with these ``RTC_*`` variables and none inherited from
    the test run; its output is captured as text."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RTC_")}
    clean.update(DJANGO_SETTINGS_MODULE="conference.settings", **env)
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=clean,  # noqa: S603
                          capture_output=True, text=True, timeout=60, check=False)
