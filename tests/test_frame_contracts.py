"""The column contracts of the frames between the analysis' steps (covguard.frames.check)."""

from __future__ import annotations

import pandas as pd
import pytest

from covguard.frames import FUNCTION_UNITS, REQUIREMENT_STATUSES, check


def test_a_conforming_frame_passes_unchanged_with_its_extra_columns() -> None:
    df = pd.DataFrame({"file": ["a.c"], "function": ["f"], "coverage_unit": ["t::x"], "extra": [1]})
    assert check(df, FUNCTION_UNITS, "function executions") is df


def test_a_missing_column_is_named() -> None:
    df = pd.DataFrame({"file": ["a.c"], "function": ["f"]})
    with pytest.raises(ValueError, match=r"function executions frame lacks columns \['coverage_unit'\]"):
        check(df, FUNCTION_UNITS, "function executions")


def test_a_column_of_another_kind_is_named() -> None:
    row = {c: ["x"] for c in REQUIREMENT_STATUSES} | {"line": [1.5], "executed_by_tests": [True]}
    row |= {c: [1] for c in ("lines_total", "branches_total", "lines_verified", "branches_verified")}
    row |= {"line_coverage": [50.0], "branch_coverage": [float("nan")]}
    row |= {c: [["t::x"]] for c in ("implemented_by", "verified_by", "failing_tests")}
    with pytest.raises(ValueError, match=r"wrong kind: line \(float64, not int\)"):
        check(pd.DataFrame(row), REQUIREMENT_STATUSES, "requirement statuses")
    row["line"] = [3]
    check(pd.DataFrame(row), REQUIREMENT_STATUSES, "requirement statuses")  # int in a "number" column too
    row["line_coverage"] = [True]
    with pytest.raises(ValueError, match=r"line_coverage \(bool, not number\)"):
        check(pd.DataFrame(row), REQUIREMENT_STATUSES, "requirement statuses")


def test_an_empty_frame_is_checked_for_its_columns_only() -> None:
    empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in FUNCTION_UNITS})
    assert check(empty, FUNCTION_UNITS, "function executions") is empty
