"""``bench/validation.py`` runs: every request type timed, valid and refused."""

from __future__ import annotations

import json

import pytest

from bench import validation


def test_validation_quick_times_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    """A quick run times each request type's valid and refused data (never asserts speed)."""
    validation.main(["--quick", "--json"])
    result = json.loads(capsys.readouterr().out)
    rows = {row["type"]: row for row in result["rows"]}
    assert set(rows) == {case[0] for case in validation.CASES}
    for row in rows.values():
        timing = row["routes (pydantic)"]
        assert timing["valid_ns"] > 0 and timing["invalid_ns"] > 0
