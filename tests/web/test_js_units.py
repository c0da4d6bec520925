"""The browser code's own unit tests (static/tests/*.test.js), run by Node's test runner.

They cover what the end-to-end tests reach only indirectly: the signaling client's request
correlation, timeouts, reconnection backoff and close codes (refusals, 4429, 4503), the call
controller's leave (rtc:leave awaited, then close 1000; at once on page unload) and server
restart paths, its reconnection policy (keep or rebuild the media session, what to produce,
close and consume after rtc:joined), its local sources and remote peers, the connection
badge's states, and the grid's layout and layer-choice functions.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from django.conf import settings


def test_javascript_unit_tests_pass() -> None:
    """`node --test static/tests/` passes, and really ran the tests (not zero of them)."""
    node = shutil.which("node")
    assert node, "node is missing (Debian package nodejs, installed with npm)"
    result = subprocess.run(
        [node, "--test", "static/tests/"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"^# pass (\d+)$", output, re.M)
    failed = re.search(r"^# fail (\d+)$", output, re.M)
    assert passed and int(passed.group(1)) >= 44, output
    assert failed and int(failed.group(1)) == 0, output
