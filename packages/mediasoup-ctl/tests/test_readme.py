"""The README's quick start runs as written against a real worker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_quick_start_runs(worker_bin: str) -> None:
    """The one Python block of the README starts a worker, produces, consumes and closes."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1
    done = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "audio audio/opus" in done.stdout.splitlines()[-1]
