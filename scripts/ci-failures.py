"""Print why each test of CI's passes failed, last in CI's output where it is read first.

CI's output is long (two passes, each with its coverage table) and whoever reads it back may
see only its beginning and its end; a failed pass's tracebacks sit in the middle. Each pass
writes a JUnit XML report (``pytest --junitxml``); this prints, for every failed or erroring
test of those reports, its id, its message and the end of its traceback.

Usage: python scripts/ci-failures.py REPORT.xml... (a missing report is said, not an error).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree  # noqa: S405 (our own pytest's report)
from pathlib import Path

MESSAGE_LINES = 8
"""Lines of each failure's message printed (an assertion's values come first)."""

TAIL_LINES = 25
"""Lines of each traceback printed (its end, where the assertion and its values are)."""


def failures(report: Path) -> list[tuple[str, str, str]]:
    """(test id, message, traceback) of each failed or erroring test in ``report``."""
    found = []
    for case in ElementTree.parse(report).iter("testcase"):  # noqa: S314
        for outcome in ("failure", "error"):
            for element in case.findall(outcome):
                test = f"{case.get('classname', '')}::{case.get('name', '')}"
                found.append((f"{outcome.upper()} {test}", element.get("message", ""),
                              element.text or ""))
    return found


def main(paths: list[str]) -> int:
    """Print the failures of every report; 0 always (the passes' exit codes decide CI)."""
    for name in paths:
        report = Path(name)
        if not report.exists():
            print(f"== {report.name}: no report (the pass did not run to its end)")
            continue
        found = failures(report)
        print(f"== {report.name}: {len(found)} failed")
        for test, message, text in found:
            print(f"-- {test}")
            for line in message.splitlines()[:MESSAGE_LINES]:
                print(f"   {line[:300]}")
            for line in text.rstrip().splitlines()[-TAIL_LINES:]:
                print(f"   | {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
