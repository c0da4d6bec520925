"""``scripts/ci-failures.py``: CI's last lines say why each test of either pass failed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("ci_failures", ROOT / "scripts" / "ci-failures.py")
assert SPEC is not None and SPEC.loader is not None
ci_failures = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(ci_failures)

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" tests="3">
<testcase classname="tests.a" name="test_passes" time="0.1"/>
<testcase classname="tests.a" name="test_fails" time="0.1">
<failure message="AssertionError: values differ&#10;assert 1 == 2">{lines}</failure>
</testcase>
<testcase classname="tests.b" name="test_cannot_start" time="0.1">
<error message="failed on setup with RuntimeError: daphne exited early">trace</error>
</testcase>
</testsuite></testsuites>
"""


def test_each_failure_is_printed_with_its_message_and_the_end_of_its_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every failed or erroring test is named with its message and the last 25 lines of its
    traceback; a passing test is not; a pass without a report is said."""
    report = tmp_path / "sqlite.xml"
    report.write_text(REPORT.format(lines="\n".join(f"line {i}" for i in range(40))))
    assert ci_failures.main([str(report), str(tmp_path / "postgres-redis.xml")]) == 0
    out = capsys.readouterr().out
    assert "== sqlite.xml: 2 failed" in out
    assert ("-- FAILURE tests.a::test_fails\n"
            "   AssertionError: values differ\n   assert 1 == 2") in out
    assert "-- ERROR tests.b::test_cannot_start" in out and "daphne exited early" in out
    assert "test_passes" not in out
    assert "   | line 39" in out and "   | line 15" in out and "line 14\n" not in out
    assert "== postgres-redis.xml: no report (the pass did not run to its end)" in out
