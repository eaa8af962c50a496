"""The requirement hierarchy roll-up (:mod:`covguard.analysis.hierarchy`); end to end on real C in
the golden fixture ``golden/hierarchy``."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd

from covguard.analysis.hierarchy import roll_up
from tests.conftest import require
from tests.test_golden import run_fixture


def frame(rows: list[tuple[str, str | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "parent": pd.Series([r[1] for r in rows], dtype=object),
            "status": [r[2] for r in rows],
        }
    )


def statuses(out: pd.DataFrame) -> dict[str, str]:
    return dict(zip(out["id"], out["status"], strict=True))


def test_three_levels_roll_up_bottom_first() -> None:
    out = roll_up(
        frame(
            [
                ("A", None, "unimplemented"),
                ("B", "A", "unverified"),
                ("C", "B", "verified"),
                ("D", "B", "verified"),
            ]
        )
    )
    assert statuses(out) == {"A": "verified", "B": "verified", "C": "verified", "D": "verified"}
    assert out["verified_through"].tolist() == [["B"], ["C", "D"], [], []]


def test_a_parent_with_own_evidence_or_a_bad_child_keeps_its_status() -> None:
    out = roll_up(
        frame(
            [
                ("P", None, "failing"),
                ("P1", "P", "verified"),
                ("Q", None, "unimplemented"),
                ("Q1", "Q", "verified"),
                ("Q2", "Q", "hollow"),
            ]
        )
    )
    assert statuses(out) == {
        "P": "failing",
        "P1": "verified",
        "Q": "unimplemented",
        "Q1": "verified",
        "Q2": "hollow",
    }


def test_a_cycle_verifies_nothing() -> None:
    out = roll_up(frame([("X", "Y", "unverified"), ("Y", "X", "unverified")]))
    assert statuses(out) == {"X": "unverified", "Y": "unverified"}


def test_no_hierarchy_leaves_the_frame_as_it_was() -> None:
    before = frame([("A", None, "verified"), ("B", None, "unverified")])
    out = roll_up(before.drop(columns="parent"))
    assert statuses(out) == statuses(before)
    assert out["verified_through"].tolist() == [[], []]


# ---------------------------------------------------------------------------------------------
# end to end: the golden fixture `hierarchy` built with gcc, its reports


def test_hierarchy_reaches_findings_html_and_the_trace_matrix(tmp_path: Path) -> None:
    require("gcc", "make", "gcov")
    outcome = run_fixture("hierarchy", tmp_path)
    doc = json.loads(outcome.outputs["findings"].read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in doc["requirements"]}
    assert by_id["GLD-30"]["status"] == "verified"
    assert by_id["GLD-30"]["verified_through"] == ["GLD-31", "GLD-32"]
    assert by_id["GLD-30"]["verified_by"] == []  # no test of its own
    assert by_id["GLD-41"]["parent"] == "GLD-40"
    assert by_id["GLD-40"]["status"] == "unimplemented"  # GLD-42 has no test
    html = outcome.outputs["html"].read_text(encoding="utf-8")
    assert 'child of <a href="#req-GLD-30">GLD-30</a>' in html
    assert "verified through GLD-31, GLD-32" in html
    book = openpyxl.load_workbook(outcome.outputs["trace-xlsx"], read_only=True)
    rows = list(book["Requirements"].iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:3] == ["requirement", "title", "parent"]
    parents = {row[0]: row[2] for row in rows[1:]}
    assert parents["GLD-31"] == "GLD-30"
    assert parents["GLD-30"] in (None, "")
